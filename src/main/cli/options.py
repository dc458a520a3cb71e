"""Options shared by the commands that start the embedded stack."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console

from main.errors import UsageError
from main.stack.embedded import StackOptions
from main.stack.hub import HubSettings
from main.stack.images import BuildStep
from main.stack.mirror_chain import MIRROR_KINDS, MirrorKind
from main.stack.wan import WanProfile

IMAGE_OPTION = typer.Option(
    [],
    "--image",
    "-i",
    help=(
        "Image to use, such as debian:bookworm-slim; repeat for several. "
        "Default: all embedded images."
    ),
)
RTT_OPTION = typer.Option(
    20.0, help="Round-trip time added by the Hub stand-in, in ms (0: none)."
)
BANDWIDTH_OPTION = typer.Option(
    100.0,
    help="Bandwidth of the Hub stand-in's link, in Mbit/s (0: unlimited).",
)
RATE_LIMIT_OPTION = typer.Option(
    100,
    min=0,
    help="Counted pulls the Hub stand-in allows per image before it returns 429.",
)
UPSTREAM_PORT_OPTION = typer.Option(
    None, min=1, max=65535, help="Port of the upstream registry (default: free)."
)
HUB_PORT_OPTION = typer.Option(
    None, min=1, max=65535, help="Port of the Docker Hub stand-in (default: free)."
)
MIRROR_PORT_OPTION = typer.Option(
    None, min=1, max=65535, help="Port of the mirror (default: free)."
)
IMAGE_CACHE_OPTION = typer.Option(
    None,
    help="Folder of built images (default: ~/.cache/registry-mirror/images).",
)


def build_stack_options(
    *,
    rtt_ms: float,
    bandwidth_mbit: float,
    rate_limit: int,
    upstream_port: int | None,
    hub_port: int | None,
    mirror_port: int | None,
    mirror_kinds: tuple[MirrorKind, ...] = ("gateway",),
) -> StackOptions:
    """Collect the stack options, rejecting a port given to two servers."""
    ports = {
        "--upstream-port": upstream_port,
        "--hub-port": hub_port,
        "--mirror-port": mirror_port,
    }
    seen: dict[int, str] = {}
    for option, port in ports.items():
        if port is None:
            continue
        if port in seen:
            msg = (
                f"{seen[port]} and {option} both ask for port {port}; "
                "give each server its own port"
            )
            raise UsageError(msg)
        seen[port] = option
    check_wan_figures(rtt_ms, bandwidth_mbit)
    hub = HubSettings(
        pull_limit=rate_limit,
        wan=WanProfile(rtt_ms=rtt_ms, bandwidth_mbit=bandwidth_mbit),
    )
    return StackOptions(
        hub=hub,
        upstream_port=upstream_port,
        hub_port=hub_port,
        mirror_port=mirror_port,
        mirror_kinds=mirror_kinds,
    )


# Slower links would make one pull of the small image take hours.
MIN_BANDWIDTH_MBIT = 0.1
MAX_RTT_MS = 10_000.0


def check_wan_figures(rtt_ms: float, bandwidth_mbit: float) -> None:
    """Reject WAN figures that are not finite or would stall every pull."""
    if not math.isfinite(rtt_ms) or not 0 <= rtt_ms <= MAX_RTT_MS:
        msg = (
            f"invalid --rtt-ms {rtt_ms}; use a number of milliseconds "
            f"from 0 to {MAX_RTT_MS:g}"
        )
        raise UsageError(msg)
    too_slow = 0 < bandwidth_mbit < MIN_BANDWIDTH_MBIT
    if not math.isfinite(bandwidth_mbit) or bandwidth_mbit < 0 or too_slow:
        msg = (
            f"invalid --bandwidth-mbit {bandwidth_mbit}; use 0 for unlimited or "
            f"at least {MIN_BANDWIDTH_MBIT} Mbit/s"
        )
        raise UsageError(msg)


def parse_mirror_kinds(texts: list[str]) -> tuple[MirrorKind, ...]:
    """Validate --mirror-kind values; none given means every kind."""
    if not texts:
        return MIRROR_KINDS
    kinds: list[MirrorKind] = []
    for text in texts:
        kind = next((known for known in MIRROR_KINDS if known == text), None)
        if kind is None:
            msg = (
                f"invalid --mirror-kind '{text}'; use one of: {', '.join(MIRROR_KINDS)}"
            )
            raise UsageError(msg)
        if kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)


def progress_printer(console: Console) -> Callable[[BuildStep], None]:
    """Return a callback that prints image build steps as they happen."""

    def show(step: BuildStep) -> None:
        console.print(f"[dim]building[/dim] {step}", highlight=False)

    return show


def existing_folder(path: Path | None, option: str) -> Path | None:
    """Return `path`, or raise UsageError if it exists and is not a folder."""
    if path is not None and path.exists() and not path.is_dir():
        msg = f"{option} '{path}' is a file, not a folder; give a folder path"
        raise UsageError(msg)
    return path
