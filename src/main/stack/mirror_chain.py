"""One mirror of the embedded default, plain or behind the upstream gateway.

`plain` is distribution alone, pointed at the Docker Hub stand-in: what a
stock `registry` proxy does. `gateway` puts this project's upstream gateway
between distribution and the stand-in, as the cluster deployment does. Both
run side by side so the benchmark compares them in one run.
"""

from __future__ import annotations

import logging
import shutil
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Literal

from main.gateway.config import GatewayConfig
from main.gateway.runner import GatewayServer, run_gateway
from main.stack.ports import free_port, resolve_port
from main.stack.registry import RegistryServer, run_registry

logger = logging.getLogger(__name__)

MirrorKind = Literal["plain", "gateway"]
MIRROR_KINDS: tuple[MirrorKind, ...] = ("plain", "gateway")


class MirrorChain:
    """A docker-registry proxy and, for the gateway kind, the gateway it uses.

    Use it as an async context manager; `empty()` restarts every part on
    empty storage and empty gateway state, which is a cold cache.
    """

    def __init__(
        self,
        kind: MirrorKind,
        hub_url: str,
        work_dir: Path,
        *,
        port: int | None = None,
        port_option: str = "--mirror-port",
    ) -> None:
        self.kind = kind
        self._hub_url = hub_url
        self._work_dir = work_dir
        self._port = port
        self._port_option = port_option
        self._gateway_port = free_port() if kind == "gateway" else 0
        self._gateway_stack: AsyncExitStack | None = None
        self._registry_stack = AsyncExitStack()
        self.gateway: GatewayServer | None = None
        self._registry: RegistryServer | None = None

    @property
    def registry(self) -> RegistryServer:
        """The docker-registry process that clients pull from."""
        if self._registry is None:
            msg = f"the {self.kind} mirror is not running"
            raise RuntimeError(msg)
        return self._registry

    @property
    def base_url(self) -> str:
        """Base URL that clients pull from."""
        return self.registry.base_url

    @property
    def storage_dir(self) -> Path:
        return self._work_dir / "storage"

    @property
    def _gateway_state(self) -> Path:
        return self._work_dir / "gateway-state"

    async def __aenter__(self) -> MirrorChain:
        for folder in (self.storage_dir, self._gateway_state):
            folder.mkdir(parents=True, exist_ok=True)
        # A taken port is a user error: report it before anything starts.
        port = resolve_port(self._port, self._port_option)
        remote = await self._start_gateway() if self.kind == "gateway" else None
        try:
            self._registry = await self._registry_stack.enter_async_context(
                run_registry(
                    remote or self._hub_url,
                    name=f"{self.kind} mirror",
                    port=port,
                    port_option=self._port_option,
                    storage_dir=self.storage_dir,
                )
            )
        except BaseException:
            await self._stop_gateway()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._registry_stack.aclose()
        finally:
            await self._stop_gateway()

    async def empty(self) -> None:
        """Restart the mirror (and gateway) on empty storage, as a cold cache."""
        await self.registry.stop()
        await self._stop_gateway()
        for folder in (self.storage_dir, self._gateway_state):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        if self.kind == "gateway":
            await self._start_gateway()
        await self.registry.start()
        logger.info("%s mirror restarted on empty storage", self.kind)

    async def restart(self) -> None:
        """Stop every part and start it again on the same storage and state.

        This is what a pod restart does. Raises StackError when the mirror
        cannot start, as distribution 2.8 alone cannot while its upstream is
        down.
        """
        await self.registry.stop()
        await self._stop_gateway()
        if self.kind == "gateway":
            await self._start_gateway()
        await self.registry.start()

    async def _start_gateway(self) -> str:
        config = GatewayConfig(
            upstream_url=self._hub_url,
            state_dir=self._gateway_state,
            spool_dir=self._work_dir,
            use_env_proxy=False,
        )
        stack = AsyncExitStack()
        self.gateway = await stack.enter_async_context(
            run_gateway(config, port=self._gateway_port)
        )
        self._gateway_stack = stack
        return self.gateway.url

    async def _stop_gateway(self) -> None:
        stack, self._gateway_stack = self._gateway_stack, None
        self.gateway = None
        if stack is not None:
            await stack.aclose()
