"""Benchmark a real mirror (such as the in-cluster one) against its real upstream.

A remote mirror cannot be emptied from here, so the scenarios differ from the
embedded default's. `hub` pulls straight from the upstream. `mirror-first` is
this run's first pull through the mirror, cold unless the image was pulled
before. `mirror-warm` and `mirror-warm-concurrent` pull what is then cached.
Upstream figures come from the gateway's Prometheus metrics when a metrics URL
is given and reachable. Otherwise they are reported as zero requests with an
unknown quota.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from main.bench.model import (
    HUB,
    MIRROR_FIRST,
    MIRROR_WARM,
    MIRROR_WARM_CONCURRENT,
    BenchmarkRun,
    BenchmarkSettings,
    ScenarioResult,
)
from main.bench.scenarios import PullImage, ScenarioPlan, UpstreamSnapshot, measure
from main.oci.platform import Platform
from main.reference import normalize_base_url, parse_reference

logger = logging.getLogger(__name__)

# API roots of the well-known registries whose API host differs from their name.
API_HOSTS = {"docker.io": "https://registry-1.docker.io"}

_SAMPLE = re.compile(
    r"^registry_mirror_gateway_(?P<name>[a-z_]+?)(?:_total)?(?:\{[^}]*\})?\s+"
    r"(?P<value>[-+0-9.eE]+)$",
    re.MULTILINE,
)


def upstream_url_for(image: str) -> str:
    """Return the API root of the registry an image reference names."""
    registry = parse_reference(image).registry
    return API_HOSTS.get(registry, f"https://{registry}")


def parse_gateway_metrics(text: str) -> UpstreamSnapshot:
    """Sum the gateway's upstream counters from Prometheus text format."""
    sums: dict[str, float] = {}
    for match in _SAMPLE.finditer(text):
        name = match.group("name")
        sums[name] = sums.get(name, 0.0) + float(match.group("value"))
    remaining = sums.get("ratelimit_remaining", -1.0)
    return UpstreamSnapshot(
        requests=int(sums.get("upstream_requests", 0)),
        bytes=int(sums.get("upstream_bytes", 0)),
        counted_pulls=int(sums.get("counted_pulls", 0)),
        remaining_quota=None if remaining < 0 else int(remaining),
    )


@dataclass
class RemoteTarget:
    """A mirror and an upstream reached over the network, read-only."""

    http: httpx.AsyncClient
    mirror: str
    upstream: str
    metrics_url: str | None = None

    @property
    def local_url(self) -> str:
        return self.upstream

    @property
    def hub_url(self) -> str:
        return self.upstream

    @property
    def mirror_url(self) -> str:
        return self.mirror

    async def upstream_snapshot(self) -> UpstreamSnapshot:
        """Read the gateway metrics, or zeros when there are none to read."""
        if self.metrics_url is None:
            return UpstreamSnapshot(0, 0, 0, None)
        try:
            response = await self.http.get(self.metrics_url)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            logger.warning("cannot read gateway metrics %s: %s", self.metrics_url, exc)
            return UpstreamSnapshot(0, 0, 0, None)
        return parse_gateway_metrics(response.text)

    async def wait_until_stored(self, image: str, digests: Sequence[str]) -> None:
        """Do nothing: a remote mirror's storage cannot be watched from here."""

    async def empty_mirror(self) -> None:
        """Do nothing: a remote mirror is never emptied by the benchmark."""


async def run_remote(
    target: RemoteTarget,
    pull: PullImage,
    images: Sequence[str],
    *,
    platform: Platform,
    concurrency: int,
    warm_rounds: int,
) -> BenchmarkRun:
    """Measure each image straight from upstream and through the mirror."""
    settings = BenchmarkSettings(
        images=tuple(images),
        platform=str(platform),
        concurrency=concurrency,
        warm_rounds=warm_rounds,
        rtt_ms=0.0,
        bandwidth_mbit=0.0,
        mirrors=(target.mirror,),
        distribution="remote",
    )
    run = BenchmarkRun(settings)
    for image in images:
        run.results += await _measure_remote_image(
            target, pull, ScenarioPlan(image, concurrency, warm_rounds)
        )
    return run


async def _measure_remote_image(
    target: RemoteTarget, pull: PullImage, plan: ScenarioPlan
) -> list[ScenarioResult]:
    upstream = await measure(target, pull, plan, HUB, url=target.upstream)
    size = upstream.client_bytes
    mirror = target.mirror
    results = [upstream]
    for scenario, clients, rounds in (
        (MIRROR_FIRST, 1, 1),
        (MIRROR_WARM, 1, plan.warm_rounds),
        (MIRROR_WARM_CONCURRENT, plan.concurrency, 1),
    ):
        results.append(
            await measure(
                target,
                pull,
                plan,
                scenario,
                url=mirror,
                clients=clients,
                rounds=rounds,
                image_bytes=size,
                mirror=mirror,
            )
        )
    return results


def check_remote_urls(mirror: str, metrics_url: str | None) -> tuple[str, str | None]:
    """Validate the URLs a user gave for a remote benchmark."""
    checked_metrics = None if metrics_url is None else normalize_base_url(metrics_url)
    return normalize_base_url(mirror), checked_metrics
