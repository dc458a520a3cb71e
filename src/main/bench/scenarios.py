"""Benchmark scenarios: how each one prepares the stack, pulls, and measures.

The scenarios talk to the stack through `BenchTarget`, so the same code measures
the embedded default and, later, a real in-cluster mirror.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import anyio

from main.bench.model import (
    HUB,
    LOCAL,
    MIRROR_COLD,
    MIRROR_COLD_CONCURRENT,
    MIRROR_WARM,
    ScenarioResult,
    UpstreamUsage,
)
from main.oci.client import PullResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpstreamSnapshot:
    """Cumulative counters of the upstream side at one moment."""

    requests: int
    bytes: int
    counted_pulls: int
    remaining_quota: int | None


class BenchTarget(Protocol):
    """What the scenarios need from a stack: endpoints, counters, fresh storage."""

    @property
    def local_url(self) -> str: ...

    @property
    def hub_url(self) -> str: ...

    @property
    def mirror_url(self) -> str: ...

    async def upstream_snapshot(self) -> UpstreamSnapshot: ...

    async def empty_mirror(self) -> None: ...

    async def wait_until_stored(self, image: str, digests: Sequence[str]) -> None: ...


# Pull `image` from the registry at a base URL.
PullImage = Callable[[str, str], Awaitable[PullResult]]


@dataclass(frozen=True)
class ScenarioPlan:
    """The knobs of one run of all scenarios for one image."""

    image: str
    concurrency: int
    warm_rounds: int


def _usage(before: UpstreamSnapshot, after: UpstreamSnapshot) -> UpstreamUsage:
    return UpstreamUsage(
        requests=after.requests - before.requests,
        bytes=after.bytes - before.bytes,
        counted_pulls=after.counted_pulls - before.counted_pulls,
        remaining_quota=after.remaining_quota,
    )


async def _timed_pulls(
    pull: PullImage, url: str, image: str, clients: int
) -> tuple[float, list[PullResult]]:
    """Run `clients` pulls at once; return the wall time until all end, and pulls."""
    received: list[PullResult] = []

    async def pull_once() -> None:
        received.append(await pull(url, image))

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(clients):
            group.start_soon(pull_once)
    return time.perf_counter() - started, received


async def measure(
    target: BenchTarget,
    pull: PullImage,
    plan: ScenarioPlan,
    scenario: str,
    *,
    url: str,
    clients: int = 1,
    rounds: int = 1,
    image_bytes: int | None = None,
    mirror: str | None = None,
) -> ScenarioResult:
    """Measure one scenario: `rounds` rounds of `clients` concurrent pulls.

    `image_bytes` is the size of one pull; None takes it from this scenario.
    `mirror` names the mirror kind pulled through, None for no mirror.
    """
    before = await target.upstream_snapshot()
    times: list[float] = []
    pulls: list[PullResult] = []
    for _ in range(rounds):
        seconds, pulls = await _timed_pulls(pull, url, plan.image, clients)
        times.append(seconds)
    after = await target.upstream_snapshot()
    total_bytes = sum(result.total_bytes for result in pulls)
    if mirror is not None:
        # The mirror may still be copying blobs to storage in the background;
        # the next scenario must start from a settled cache.
        await target.wait_until_stored(plan.image, list(pulls[0].blob_sizes))
    logger.info("%s %s: %s rounds, median of %s", scenario, plan.image, rounds, times)
    return ScenarioResult(
        scenario=scenario,
        image=plan.image,
        clients=clients,
        wall_seconds=tuple(times),
        client_bytes=total_bytes,
        image_bytes=image_bytes if image_bytes is not None else total_bytes // clients,
        upstream=_usage(before, after),
        mirror=mirror,
    )


async def run_baseline(
    target: BenchTarget, pull: PullImage, plan: ScenarioPlan
) -> list[ScenarioResult]:
    """Measure the pulls without a mirror: local upstream, then the Hub stand-in.

    The local pull comes first: its byte count is the image size that the
    other scenarios' upstream bytes are compared with.
    """
    local = await measure(target, pull, plan, LOCAL, url=target.local_url)
    hub = await measure(
        target, pull, plan, HUB, url=target.hub_url, image_bytes=local.client_bytes
    )
    return [local, hub]


async def run_mirror_scenarios(
    target: BenchTarget,
    pull: PullImage,
    plan: ScenarioPlan,
    *,
    mirror: str,
    image_bytes: int,
) -> list[ScenarioResult]:
    """Measure cold, warm and concurrent cold pulls through one mirror kind."""
    await target.empty_mirror()
    cold = await measure(
        target,
        pull,
        plan,
        MIRROR_COLD,
        url=target.mirror_url,
        image_bytes=image_bytes,
        mirror=mirror,
    )
    warm = await measure(
        target,
        pull,
        plan,
        MIRROR_WARM,
        url=target.mirror_url,
        rounds=plan.warm_rounds,
        image_bytes=image_bytes,
        mirror=mirror,
    )

    await target.empty_mirror()
    concurrent = await measure(
        target,
        pull,
        plan,
        MIRROR_COLD_CONCURRENT,
        url=target.mirror_url,
        clients=plan.concurrency,
        image_bytes=image_bytes,
        mirror=mirror,
    )
    return [cold, warm, concurrent]
