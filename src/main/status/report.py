"""Describe the status of the mirrors and the engine in lines of text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from main.status.engine import EngineRoute
from main.status.gateway import GatewayFigures
from main.status.registry import Listing, ProxyCounters

__all__ = ["MirrorStatus", "StatusReport", "format_status", "unreadable_summary"]

# Repositories and tags named per mirror before the list is cut short.
SHOWN_REPOSITORIES = 20
SHOWN_TAGS = 5


@dataclass(frozen=True)
class MirrorStatus:
    """Contents of one mirror and the requests it and its gateway have served.

    `gateway_note` is the reason why `gateway` is None.
    """

    registry: str
    url: str
    size: str
    repositories: Listing
    tags: dict[str, Listing] = field(default_factory=dict)
    counters: ProxyCounters | None = None
    disk_bytes: int | None = None
    note: str = ""
    gateway: GatewayFigures | None = None
    gateway_note: str = ""


@dataclass(frozen=True)
class StatusReport:
    """Every mirror, the engine's routes (None if not read) and a note on them."""

    mirrors: Sequence[MirrorStatus]
    engine: Sequence[EngineRoute] | None = None
    engine_note: str = ""


def format_status(report: StatusReport) -> list[str]:
    """Describe the report: one block per mirror, then the engine."""
    lines: list[str] = []
    for mirror in report.mirrors:
        lines.extend(_mirror_lines(mirror))
    lines.append("engine:")
    if report.engine is None:
        lines.append(f"  not checked: {report.engine_note}")
    else:
        for route in report.engine:
            mark = "ok" if route.uses_mirror else "PROBLEM"
            lines.append(f"  {route.registry}: {mark}: {route.detail}")
    return lines


def unreadable_summary(report: StatusReport) -> str | None:
    """Return one line naming the mirrors whose contents could not be read, or None."""
    failed = [m.registry for m in report.mirrors if m.repositories.error is not None]
    if not failed:
        return None
    return (
        f"{len(failed)} of {len(report.mirrors)} mirrors could not be read "
        f"({', '.join(failed)}); check that they run and that their URLs are right"
    )


def _mirror_lines(mirror: MirrorStatus) -> list[str]:
    lines = [f"mirror for {mirror.registry} at {mirror.url}:"]
    listing = mirror.repositories
    if listing.error is not None:
        lines.append(f"  repositories: unknown: {listing.error}")
    else:
        more = "" if listing.complete else " or more"
        lines.append(f"  repositories: {len(listing.items)}{more}")
    for repository in listing.items[:SHOWN_REPOSITORIES]:
        lines.append(f"    {repository}{_tags_text(mirror.tags.get(repository))}")
    hidden = len(listing.items) - SHOWN_REPOSITORIES
    if hidden > 0:
        lines.append(f"    ... and {hidden} more")
    lines.append(f"  disk use: {_disk_text(mirror.disk_bytes, mirror.size)}")
    lines.append(f"  served since start: {_counters_text(mirror.counters)}")
    if mirror.note:
        lines.append(f"  note: {mirror.note}")
    if mirror.gateway is None:
        reason = f": {mirror.gateway_note}" if mirror.gateway_note else ""
        lines.append(f"  gateway: unknown{reason}")
    else:
        lines.extend(_gateway_lines(mirror.gateway))
    return lines


def _gateway_lines(figures: GatewayFigures) -> list[str]:
    state = "up" if figures.upstream_up else "in back-off after failures"
    if figures.ratelimit_remaining is None:
        limit = "none seen"
    elif figures.ratelimit_limit is None:
        limit = f"{figures.ratelimit_remaining} left"
    else:
        limit = f"{figures.ratelimit_remaining} of {figures.ratelimit_limit} left"
    lines = [
        f"  gateway: upstream {state}, rate limit {limit}",
        f"    answered: {_breakdown(figures.answered)}",
        f"    merged: {_breakdown(figures.merged)}",
        f"    upstream: {figures.upstream_requests} requests"
        f" ({figures.upstream_errors} without response),"
        f" {figures.upstream_bytes} bytes, {figures.counted_pulls} counted pulls",
    ]
    if figures.digest_mismatches:
        lines.append(
            f"    digest mismatches: {figures.digest_mismatches} upstream bodies"
            " rejected"
        )
    return lines


def _breakdown(counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{count} {name}" for name, count in counts.items() if count)
    return f"{total} ({parts})" if parts else str(total)


def _tags_text(tags: Listing | None) -> str:
    if tags is None:
        return ""
    if tags.error is not None:
        return f" (tags unknown: {tags.error})"
    shown = ", ".join(tags.items[:SHOWN_TAGS])
    more = "" if tags.complete and len(tags.items) <= SHOWN_TAGS else ", ..."
    count = f"{len(tags.items)}{'' if tags.complete else '+'}"
    return f" ({count} tags upstream: {shown}{more})"


def _disk_text(disk_bytes: int | None, size: str) -> str:
    if disk_bytes is None:
        return f"unknown (volume size {size})"
    return f"{disk_bytes / 1024**3:.2f} GiB of {size}"


def _counters_text(counters: ProxyCounters | None) -> str:
    if counters is None:
        return "unknown"
    return (
        f"{counters.requests} requests, {counters.hits} hits, "
        f"{counters.misses} misses, {counters.bytes_pulled} bytes from upstream"
    )
