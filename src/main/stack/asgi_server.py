"""Serve an ASGI app with uvicorn inside the running event loop.

The listening socket is bound before uvicorn starts, so the caller knows the
port up front and no other process can take it in between. uvicorn's own
signal handling is switched off because the command line owns Ctrl-C and
stops every server of the stack in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from main.errors import StackError
from main.stack.ports import LOOPBACK, ensure_port_free

__all__ = ["bind_socket", "dropping_protocol", "serve_asgi"]

logger = logging.getLogger(__name__)

_START_TIMEOUT = 10.0
_GRACEFUL_SHUTDOWN_SECONDS = 2


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Leave SIGINT and SIGTERM to the program that embeds the server.
        yield


def bind_socket(port: int | None, port_option: str) -> socket.socket:
    """Bind a listening TCP socket on 127.0.0.1, on a free port when None.

    A taken `port` raises `StackError` naming `port_option`.
    """
    if port is not None:
        ensure_port_free(port, port_option)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port or 0))
    except OSError as exc:
        sock.close()
        msg = (
            f"port {port} on {LOOPBACK} is already in use; choose another with "
            f"{port_option} or stop the process using it"
        )
        raise StackError(msg) from exc
    sock.set_inheritable(False)
    return sock


_REQUEST_LINE = re.compile(rb"[A-Z]+ (/\S*)")


def dropping_protocol(
    should_drop: Callable[[], bool], spared_prefix: bytes = b""
) -> type[asyncio.Protocol]:
    """Return an HTTP/1.1 protocol class that drops connections on request.

    While `should_drop()` is true, a connection is aborted as soon as
    request bytes arrive, so the client sees the connection close without
    any response, as with a crashed server or a reset. A request whose path
    starts with `spared_prefix` is served anyway, so the switch that turned
    dropping on can turn it off again.
    """

    class DroppingH11Protocol(H11Protocol):
        spared = False

        def data_received(self, data: bytes) -> None:
            # Decide at each request line and keep the decision for the
            # request's body, which may arrive in later chunks.
            request_line = _REQUEST_LINE.match(data)
            if request_line is not None:
                self.spared = bool(spared_prefix) and request_line.group(1).startswith(
                    spared_prefix
                )
            if should_drop() and not self.spared:
                self.transport.abort()
                return
            super().data_received(data)

    return DroppingH11Protocol


@contextlib.asynccontextmanager
async def serve_asgi(
    app: ASGIApp,
    sock: socket.socket,
    *,
    name: str,
    protocol: type[asyncio.Protocol] | None = None,
) -> AsyncIterator[None]:
    """Serve `app` on the bound `sock` until the block exits.

    The server is stopped gracefully on exit, also when the caller is
    cancelled. Requests still running after a short grace period are
    cancelled, so a held request cannot block the shutdown.
    """
    config = uvicorn.Config(
        app,
        http=protocol or H11Protocol,
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = _Server(config)
    failure: list[BaseException] = []

    async def run() -> None:
        # Shielded so that only should_exit stops the server and its
        # shutdown always closes the socket and the connections.
        with anyio.CancelScope(shield=True):
            try:
                await server.serve(sockets=[sock])
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(run)
        try:
            await _wait_started(server, failure, name)
            logger.info("started %s on %s:%s", name, *sock.getsockname())
            yield
        finally:
            server.should_exit = True
    sock.close()
    logger.info("stopped %s", name)


async def _wait_started(
    server: uvicorn.Server, failure: list[BaseException], name: str
) -> None:
    with anyio.move_on_after(_START_TIMEOUT):
        while not server.started:
            if failure:
                msg = f"{name} failed to start: {failure[0]!r}"
                raise StackError(msg) from failure[0]
            await anyio.sleep(0.01)
        return
    msg = f"{name} did not start within {_START_TIMEOUT:g} s"
    raise StackError(msg)
