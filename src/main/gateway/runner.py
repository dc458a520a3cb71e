"""Run the gateway in this process under uvicorn until the caller is done."""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from main.errors import StackError
from main.gateway.app import HEALTH_PATH, METRICS_PATH, create_app
from main.gateway.config import GatewayConfig
from main.gateway.service import Gateway
from main.stack.asgi_server import serve_asgi
from main.stack.ports import LOOPBACK

__all__ = ["GatewayServer", "run_gateway"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayServer:
    """A running gateway: its address and the objects behind it."""

    gateway: Gateway
    host: str
    port: int

    @property
    def url(self) -> str:
        """Root URL to give distribution as `proxy.remoteurl`."""
        return f"http://{self.host}:{self.port}"

    @property
    def metrics_url(self) -> str:
        """URL of the Prometheus metrics."""
        return f"{self.url}{METRICS_PATH}"

    @property
    def health_url(self) -> str:
        """URL that answers 200 while the gateway serves."""
        return f"{self.url}{HEALTH_PATH}"


@asynccontextmanager
async def run_gateway(
    config: GatewayConfig,
    *,
    host: str = LOOPBACK,
    port: int = 0,
    port_option: str = "--gateway-port",
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[GatewayServer]:
    """Serve a gateway on `host:port` until the block exits.

    `port` 0 lets the kernel pick a free port, which the yielded server
    reports. A port in use raises `StackError` naming `port_option`.
    """
    listener = _bind(host, port, port_option)
    bound_port: int = listener.getsockname()[1]
    try:
        async with Gateway.open(config, transport) as gateway:
            app = create_app(gateway)
            async with serve_asgi(
                app, listener, name=f"gateway for {config.upstream_url}"
            ):
                yield GatewayServer(gateway, host, bound_port)
    finally:
        listener.close()


def _bind(host: str, port: int, port_option: str) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            msg = (
                f"port {port} on {host} is already in use; choose another with "
                f"{port_option} or stop the process using it"
            )
        else:
            msg = f"cannot listen on {host}:{port}: {exc.strerror}; check {port_option}"
        raise StackError(msg) from exc
    return listener
