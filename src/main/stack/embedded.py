"""The embedded default: upstream registry, Docker Hub stand-in and mirror.

Everything listens on 127.0.0.1. The servers start in dependency order
(upstream, then the stand-in, then the mirror, because distribution 2.8 panics
when its proxy upstream does not answer at start-up) and stop in reverse order
on exit, on error and on cancellation.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from main.bench.scenarios import UpstreamSnapshot
from main.reference import parse_reference
from main.stack.hub import HubSettings, HubStandin, run_hub
from main.stack.registry import RegistryServer, run_registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StackOptions:
    """Ports (None picks a free one) and the stand-in's behaviour."""

    hub: HubSettings = field(default_factory=HubSettings)
    upstream_port: int | None = None
    hub_port: int | None = None
    mirror_port: int | None = None
    upstream_storage: Path | None = None


class EmbeddedStack:
    """The running servers of the embedded default, with controls for scenarios."""

    def __init__(
        self,
        upstream: RegistryServer,
        hub: HubStandin,
        mirror: RegistryServer,
    ) -> None:
        self.upstream = upstream
        self.hub = hub
        self.mirror = mirror

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
        """Base URL of the pull-through mirror."""
        return self.mirror.base_url

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

    async def wait_until_stored(self, image: str, digests: Sequence[str]) -> None:
        """Wait until the mirror has committed every blob of `image` to storage."""
        repository = parse_reference(image).repository
        await self.mirror.wait_for_blobs(repository, digests)

    async def empty_mirror(self) -> None:
        """Restart the mirror on empty storage, as a cold cache."""
        await self.mirror.stop()
        shutil.rmtree(self.mirror.storage_dir, ignore_errors=True)
        self.mirror.storage_dir.mkdir(parents=True)
        await self.mirror.start()
        logger.info("mirror restarted on empty storage %s", self.mirror.storage_dir)


@asynccontextmanager
async def run_embedded_stack(
    options: StackOptions | None = None,
) -> AsyncIterator[EmbeddedStack]:
    """Start the three servers, yield them, and stop them all on exit."""
    options = options or StackOptions()
    mirror_storage = Path(tempfile.mkdtemp(prefix="registry-mirror-cache-"))
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
            mirror = await servers.enter_async_context(
                run_registry(
                    hub.base_url,
                    name="mirror",
                    port=options.mirror_port,
                    port_option="--mirror-port",
                    storage_dir=mirror_storage,
                )
            )
            yield EmbeddedStack(upstream, hub, mirror)
    finally:
        shutil.rmtree(mirror_storage, ignore_errors=True)
