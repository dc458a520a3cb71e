"""Pull client failures against real misbehaving servers on 127.0.0.1.

Each server here is a raw TCP listener that speaks just enough HTTP/1.1 to
misbehave in one way: refuse, stall, or trickle a body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import pytest
from anyio.abc import SocketAttribute, SocketStream

from main.errors import RegistryError
from main.oci.client import ClientOptions, RegistryClient, new_http_client
from main.reference import parse_reference
from main.stack.ports import free_port

pytestmark = pytest.mark.anyio

REFERENCE = parse_reference("library/debian:12")
Handler = Callable[[SocketStream], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """Serve `handler` on a free loopback port; yield the base URL."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    # anyio typed attribute, not the Django QuerySet.extra that S610 means.
    port = listener.extra(SocketAttribute.local_port)  # noqa: S610
    async with anyio.create_task_group() as group:
        group.start_soon(listener.serve, handler)
        yield f"http://127.0.0.1:{port}"
        group.cancel_scope.cancel()
    await listener.aclose()


async def _read_request(stream: SocketStream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive()
    return data


async def _stall(stream: SocketStream) -> None:
    async with stream:
        await _read_request(stream)
        await anyio.sleep_forever()


async def _trickle_manifest(stream: SocketStream) -> None:
    """Respond to HEAD at once, then send a GET body one byte at a time."""
    async with stream:
        request = await _read_request(stream)
        headers = (
            b"HTTP/1.1 200 OK\r\n"
            b"Content-Type: application/vnd.oci.image.index.v1+json\r\n"
            b"Content-Length: 400\r\n"
            b"Connection: close\r\n\r\n"
        )
        await stream.send(headers)
        if request.startswith(b"HEAD"):
            return
        for _ in range(400):
            await stream.send(b" ")
            await anyio.sleep(0.05)


async def test_refused_connection_is_retried_then_reported() -> None:
    port = free_port()
    options = ClientOptions(connect_retries=2, retry_backoff=0.01)

    async with new_http_client(options) as http:
        client = RegistryClient(http, f"http://127.0.0.1:{port}", options=options)
        with pytest.raises(RegistryError) as caught:
            await client.pull(REFERENCE)

    message = str(caught.value)
    assert message.startswith(f"cannot connect to http://127.0.0.1:{port}/v2/")
    assert "check that the registry is running" in message
    assert client.retries == 2
    assert caught.value.status == 0


async def test_stalled_server_times_out() -> None:
    options = ClientOptions(read_timeout=0.3, connect_retries=0)

    async with raw_server(_stall) as base_url, new_http_client(options) as http:
        client = RegistryClient(http, base_url, options=options)
        with pytest.raises(RegistryError) as caught:
            await client.pull(REFERENCE)

    message = str(caught.value)
    assert "timed out while waiting for data" in message
    assert base_url in message
    assert client.retries == 0


async def test_trickling_manifest_hits_deadline() -> None:
    options = ClientOptions(read_timeout=5.0, manifest_deadline=0.5)

    async with (
        raw_server(_trickle_manifest) as base_url,
        new_http_client(options) as http,
    ):
        client = RegistryClient(http, base_url, options=options)
        with pytest.raises(RegistryError) as caught:
            await client.pull(REFERENCE)

    message = str(caught.value)
    assert "did not finish within 0.5 s" in message
    assert "/v2/library/debian/manifests/12" in message
