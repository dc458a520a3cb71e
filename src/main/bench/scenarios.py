"""Benchmark scenarios: how each one prepares the stack, pulls, and measures.

The scenarios talk to the stack through `BenchTarget`, so the same code measures
the embedded default and, later, a real in-cluster mirror.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
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


# Pull `image` from the registry at a base URL; return bytes received.
PullImage = Callable[[str, str], Awaitable[int]]


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
) -> tuple[float, int]:
    """Run `clients` pulls at once; return the wall time until all end, and bytes."""
    received: list[int] = []

    async def pull_once() -> None:
        received.append(await pull(url, image))

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(clients):
            group.start_soon(pull_once)
    return time.perf_counter() - started, sum(received)


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
) -> ScenarioResult:
    """Measure one scenario: `rounds` rounds of `clients` concurrent pulls.

    `image_bytes` is the size of one pull; None takes it from this scenario.
    """
    before = await target.upstream_snapshot()
    times: list[float] = []
    total_bytes = 0
    for _ in range(rounds):
        seconds, total_bytes = await _timed_pulls(pull, url, plan.image, clients)
        times.append(seconds)
    after = await target.upstream_snapshot()
    logger.info("%s %s: %s rounds, median of %s", scenario, plan.image, rounds, times)
    return ScenarioResult(
        scenario=scenario,
        image=plan.image,
        clients=clients,
        wall_seconds=tuple(times),
        client_bytes=total_bytes,
        image_bytes=image_bytes if image_bytes is not None else total_bytes // clients,
        upstream=_usage(before, after),
    )


async def run_scenarios(
    target: BenchTarget, pull: PullImage, plan: ScenarioPlan
) -> list[ScenarioResult]:
    """Measure every scenario for one image, in the documented order.

    The local pull comes first: its byte count is the image size that the
    other scenarios' upstream bytes are compared with.
    """
    local = await measure(target, pull, plan, LOCAL, url=target.local_url)
    size = local.client_bytes
    results = [
        local,
        await measure(target, pull, plan, HUB, url=target.hub_url, image_bytes=size),
    ]

    await target.empty_mirror()
    cold = await measure(
        target, pull, plan, MIRROR_COLD, url=target.mirror_url, image_bytes=size
    )
    warm = await measure(
        target,
        pull,
        plan,
        MIRROR_WARM,
        url=target.mirror_url,
        rounds=plan.warm_rounds,
        image_bytes=size,
    )
    results += [cold, warm]

    await target.empty_mirror()
    concurrent = await measure(
        target,
        pull,
        plan,
        MIRROR_COLD_CONCURRENT,
        url=target.mirror_url,
        clients=plan.concurrency,
        image_bytes=size,
    )
    results.append(concurrent)
    return results
