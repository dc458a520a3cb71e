"""The embedded default: upstream registry, Docker Hub stand-in and mirror.

Everything listens on 127.0.0.1. The servers start in dependency order
(upstream, then the stand-in, then the mirror, because distribution 2.8 panics
when its proxy upstream does not answer at start-up) and stop in reverse order
on exit, on error and on cancellation. Before starting, it removes the
temporary folders of earlier stacks whose process was killed (see
`main.stack.cleanup`).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread

from main.bench.scenarios import UpstreamSnapshot
from main.reference import parse_reference
from main.stack.cleanup import make_owned_temp_dir, remove_orphaned_temp_dirs
from main.stack.hub import HubSettings, HubStandin, run_hub
from main.stack.mirror_chain import MirrorChain, MirrorKind
from main.stack.registry import RegistryServer, run_registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StackOptions:
    """Ports (None picks a free one), the stand-in's behaviour, the mirror kinds.

    `mirror_port` belongs to the first kind in `mirror_kinds`; any other
    mirror gets a free port.
    """

    hub: HubSettings = field(default_factory=HubSettings)
    upstream_port: int | None = None
    hub_port: int | None = None
    mirror_port: int | None = None
    upstream_storage: Path | None = None
    mirror_kinds: tuple[MirrorKind, ...] = ("gateway",)


class MirrorTarget:
    """The stack seen through one mirror kind: what a benchmark scenario needs."""

    def __init__(self, stack: EmbeddedStack, chain: MirrorChain) -> None:
        self.stack = stack
        self.chain = chain

    @property
    def local_url(self) -> str:
        return self.stack.local_url

    @property
    def hub_url(self) -> str:
        return self.stack.hub_url

    @property
    def mirror_url(self) -> str:
        return self.chain.base_url

    async def upstream_snapshot(self) -> UpstreamSnapshot:
        return await self.stack.upstream_snapshot()

    async def wait_until_stored(self, image: str, digests: Sequence[str]) -> None:
        """Wait until the mirror has committed every blob of `image` to storage."""
        repository = parse_reference(image).repository
        await self.chain.registry.wait_for_blobs(repository, digests)

    async def empty_mirror(self) -> None:
        await self.chain.empty()


class EmbeddedStack:
    """The running servers of the embedded default, with controls for scenarios."""

    def __init__(
        self,
        upstream: RegistryServer,
        hub: HubStandin,
        mirrors: dict[MirrorKind, MirrorChain],
    ) -> None:
        self.upstream = upstream
        self.hub = hub
        self.mirrors = mirrors

    @property
    def mirror(self) -> RegistryServer:
        """The first mirror: the one `up` advertises and the tests pull from."""
        return next(iter(self.mirrors.values())).registry

    @property
    def local_url(self) -> str:
        """Base URL of the upstream registry, which has no auth and no WAN."""
        return self.upstream.base_url

    @property
    def hub_url(self) -> str:
        """Base URL of the Docker Hub stand-in."""
        return self.hub.base_url

    @property
    def mirror_url(self) -> str:
        """Base URL of the first mirror."""
        return self.mirror.base_url

    def target(self, kind: MirrorKind) -> MirrorTarget:
        """Return the benchmark's view of the stack through one mirror kind."""
        return MirrorTarget(self, self.mirrors[kind])

    async def upstream_snapshot(self) -> UpstreamSnapshot:
        """Read the stand-in's cumulative counters."""
        stats = self.hub.stats()
        return UpstreamSnapshot(
            requests=stats.requests_total,
            bytes=stats.bytes_sent,
            counted_pulls=stats.counted_pulls,
            remaining_quota=stats.remaining,
        )

    async def reset_upstream(self, limit: int | None = None) -> None:
        """Zero the stand-in's counters and refill its quota."""
        self.hub.reset(limit)


@asynccontextmanager
async def run_embedded_stack(
    options: StackOptions | None = None,
) -> AsyncIterator[EmbeddedStack]:
    """Start the servers, yield them, and stop them all on exit."""
    options = options or StackOptions()
    await anyio.to_thread.run_sync(remove_orphaned_temp_dirs)
    work_dir = make_owned_temp_dir("cache")
    try:
        async with AsyncExitStack() as servers:
            upstream = await servers.enter_async_context(
                run_registry(
                    name="upstream registry",
                    port=options.upstream_port,
                    port_option="--upstream-port",
                    storage_dir=options.upstream_storage,
                )
            )
            hub = await servers.enter_async_context(
                run_hub(upstream.base_url, options.hub, port=options.hub_port)
            )
            mirrors: dict[MirrorKind, MirrorChain] = {}
            for index, kind in enumerate(options.mirror_kinds):
                chain = MirrorChain(
                    kind,
                    hub.base_url,
                    work_dir / kind,
                    port=options.mirror_port if index == 0 else None,
                )
                mirrors[kind] = await servers.enter_async_context(chain)
            yield EmbeddedStack(upstream, hub, mirrors)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
