"""Resilience checks on the embedded default: upstream down, hung, rate-limited.

Each check switches a fault on in the Docker Hub stand-in, pulls through one
mirror kind with a deadline, and records whether the mirror behaved as a
production cache must. They run after the mirror scenarios, so the benchmark
platform of the image is cached and a second platform is not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import anyio
import httpx

from main.bench.model import CheckResult
from main.errors import RegistryMirrorError
from main.oci.client import ClientOptions, PullResult, RegistryClient
from main.oci.platform import Platform
from main.reference import parse_reference
from main.stack.embedded import EmbeddedStack
from main.stack.hub_state import FaultMode
from main.stack.mirror_chain import MirrorKind

logger = logging.getLogger(__name__)

START_WHILE_DOWN = "start-while-upstream-down"
RECOVERS = "recovers-after-outage"
WARM_WHILE_HUNG = "warm-while-upstream-hangs"
WARM_WHILE_LIMITED = "warm-while-rate-limited"
UNCACHED_WHILE_LIMITED = "uncached-while-rate-limited"

CHECK_DESCRIPTIONS = {
    START_WHILE_DOWN: "mirror restarts while the upstream refuses, serves cached tag",
    RECOVERS: "after the outage an uncached platform pulls with no restart",
    WARM_WHILE_HUNG: "cached tag is served while the upstream hangs",
    WARM_WHILE_LIMITED: "cached tag is served under 429 with 0 counted pulls",
    UNCACHED_WHILE_LIMITED: "uncached content fails fast under 429, naming it",
}

# How long one pull in a check may take before it counts as hung.
DEADLINE_SECONDS = 15.0
_MAX_DETAIL = 1000


class CheckContext:
    """Shared state of one mirror kind's checks: stack, client, image, platforms."""

    def __init__(
        self,
        stack: EmbeddedStack,
        kind: MirrorKind,
        http: httpx.AsyncClient,
        image: str,
        cached: Platform,
        uncached: Platform,
    ) -> None:
        self.stack = stack
        self.kind = kind
        self.chain = stack.mirrors[kind]
        self.image = image
        self.cached = cached
        self.uncached = uncached
        # Short timeouts, so a hung mirror fails the check instead of the run.
        options = ClientOptions(read_timeout=DEADLINE_SECONDS, connect_retries=0)
        self._http = http
        self._options = options

    async def pull(self, platform: Platform) -> PullResult:
        client = RegistryClient(self._http, self.chain.base_url, options=self._options)
        with anyio.fail_after(DEADLINE_SECONDS):
            return await client.pull(parse_reference(self.image), platform)

    async def prime(self) -> None:
        """Cache the checked platform, since later images may have emptied it."""
        result = await self.pull(self.cached)
        repository = parse_reference(self.image).repository
        await self.chain.registry.wait_for_blobs(repository, list(result.blob_sizes))

    def result(
        self, check: str, passed: bool, started: float, counted: int, detail: str
    ) -> CheckResult:
        logger.info("%s via %s mirror: %s (%s)", check, self.kind, passed, detail)
        return CheckResult(
            check=check,
            image=self.image,
            mirror=self.kind,
            passed=passed,
            seconds=time.perf_counter() - started,
            counted_pulls=counted,
            detail=detail[:_MAX_DETAIL],
        )


async def _attempt(action: Callable[[], Awaitable[object]]) -> str | None:
    """Run `action`; return None on success, else a one-line reason."""
    try:
        await action()
    except TimeoutError:
        return f"no answer within {DEADLINE_SECONDS:g} s"
    except RegistryMirrorError as exc:
        return " ".join(str(exc).split())
    return None


async def _with_fault(
    context: CheckContext, mode: FaultMode, check: str, platform: Platform
) -> CheckResult:
    """Pull one platform while the stand-in injects `mode`."""
    stack = context.stack
    before = stack.hub.stats().counted_pulls
    started = time.perf_counter()
    stack.hub.set_fault(mode)
    try:
        failure = await _attempt(lambda: context.pull(platform))
    finally:
        stack.hub.set_fault(FaultMode.NORMAL)
    counted = stack.hub.stats().counted_pulls - before
    if check == UNCACHED_WHILE_LIMITED:
        named = failure is not None and any(
            word in failure.lower() for word in ("rate", "429", "toomanyrequests")
        )
        detail = failure or "pull succeeded although the upstream answered 429"
        return context.result(check, named, started, counted, detail)
    passed = failure is None and (check != WARM_WHILE_LIMITED or counted == 0)
    detail = failure or f"served; {counted} counted pulls"
    return context.result(check, passed, started, counted, detail)


async def _start_while_down(context: CheckContext) -> CheckResult:
    started = time.perf_counter()
    context.stack.hub.set_fault(FaultMode.REFUSE)
    try:
        failure = await _attempt(context.chain.restart)
        if failure is None:
            failure = await _attempt(lambda: context.pull(context.cached))
    finally:
        context.stack.hub.set_fault(FaultMode.NORMAL)
        if not context.chain.registry.running:
            await context.chain.restart()
    detail = failure or "started and served the cached tag"
    return context.result(START_WHILE_DOWN, failure is None, started, 0, detail)


async def _recovers(context: CheckContext) -> CheckResult:
    """Retry an uncached pull for up to the deadline after the outage ends."""
    started = time.perf_counter()
    failure: str | None = "not tried"
    with anyio.move_on_after(DEADLINE_SECONDS * 2):
        while failure is not None:
            failure = await _attempt(lambda: context.pull(context.uncached))
            if failure is not None:
                await anyio.sleep(1.0)
    detail = failure or "pulled an uncached platform without a restart"
    return context.result(RECOVERS, failure is None, started, 0, detail)


async def run_checks(context: CheckContext) -> list[CheckResult]:
    """Run every check against one mirror kind, leaving the stand-in normal.

    The rate-limit checks come last because a mirror that backs off after a
    429 would otherwise fail the checks after them for the wrong reason.
    """
    await context.prime()
    results = [await _start_while_down(context), await _recovers(context)]
    results.append(
        await _with_fault(context, FaultMode.HANG, WARM_WHILE_HUNG, context.cached)
    )
    results.append(
        await _with_fault(
            context, FaultMode.RATELIMIT, WARM_WHILE_LIMITED, context.cached
        )
    )
    await context.chain.empty()
    results.append(
        await _with_fault(
            context, FaultMode.RATELIMIT, UNCACHED_WHILE_LIMITED, context.cached
        )
    )
    return results
