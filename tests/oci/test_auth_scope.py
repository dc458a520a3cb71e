"""The registry login goes only to the registry's own token service.

Registries redirect blob downloads to storage hosts; such a host, or anyone
on a plain-http path, may answer 401 with a token realm of its choice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from main.oci.auth import RegistryTokenAuth, same_site
from main.stack.asgi_server import bind_socket, serve_asgi

BLOB_PATH = "/v2/library/app/blobs/sha256:" + "a" * 64


class Hosts:
    """Three servers on loopback: a registry, its storage host, a stranger."""

    def __init__(self) -> None:
        self.sockets = [bind_socket(None, "--port") for _ in range(3)]
        ports = [sock.getsockname()[1] for sock in self.sockets]
        self.registry, self.storage, self.stranger = (
            f"http://127.0.0.1:{port}" for port in ports
        )
        self.stranger_saw: list[str | None] = []

    def apps(self) -> list[Starlette]:
        async def redirect(request: Request) -> Response:
            return RedirectResponse(f"{self.storage}/blob", status_code=307)

        async def challenge(request: Request) -> Response:
            realm = f'Bearer realm="{self.stranger}/token",service="cdn"'
            return Response(status_code=401, headers={"WWW-Authenticate": realm})

        async def token(request: Request) -> Response:
            self.stranger_saw.append(request.headers.get("authorization"))
            return JSONResponse({"token": "stolen"})

        return [
            Starlette(routes=[Route(BLOB_PATH, redirect)]),
            Starlette(routes=[Route("/blob", challenge)]),
            Starlette(routes=[Route("/token", token)]),
        ]


@pytest.fixture
async def hosts() -> AsyncIterator[Hosts]:
    hosts = Hosts()
    async with AsyncExitStack() as stack:
        for app, sock in zip(hosts.apps(), hosts.sockets, strict=True):
            await stack.enter_async_context(serve_asgi(app, sock, name="test host"))
        yield hosts
    for sock in hosts.sockets:
        sock.close()


@pytest.mark.anyio
async def test_redirect_target_gets_no_login(hosts: Hosts) -> None:
    netloc = hosts.registry.removeprefix("http://")
    auth = RegistryTokenAuth("alice", "s3cret", credential_hosts={netloc})

    async with httpx.AsyncClient(auth=auth, follow_redirects=True) as client:
        response = await client.get(f"{hosts.registry}{BLOB_PATH}")

    assert response.status_code == 401
    assert hosts.stranger_saw == [None]


@pytest.mark.anyio
async def test_realm_on_another_port_gets_no_login(hosts: Hosts) -> None:
    auth = RegistryTokenAuth("alice", "s3cret")

    async with httpx.AsyncClient(auth=auth) as client:
        await client.get(f"{hosts.storage}/blob")

    assert hosts.stranger_saw == [None]


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        pytest.param("registry-1.docker.io", "auth.docker.io", True, id="hub-auth"),
        pytest.param("ghcr.io", "ghcr.io", True, id="same-host"),
        pytest.param("quay.io", "quay.io.evil.com", False, id="suffix-trick"),
        pytest.param("registry-1.docker.io", "evil.com", False, id="other-site"),
        pytest.param("127.0.0.1:5000", "127.0.0.1:5000", True, id="same-ip-port"),
        pytest.param("127.0.0.1:5000", "127.0.0.1:5001", False, id="other-port"),
        pytest.param("localhost:1", "localhost:2", False, id="single-label"),
    ],
)
def test_same_site(first: str, second: str, expected: bool) -> None:
    assert same_site(first, second) is expected


@pytest.mark.anyio
async def test_https_login_never_goes_to_http_realm() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            seen.append(request.headers.get("authorization"))
            return httpx.Response(200, json={"token": "t"})
        if "authorization" in request.headers:
            return httpx.Response(200)
        realm = 'Bearer realm="http://auth.docker.io/token"'
        return httpx.Response(401, headers={"WWW-Authenticate": realm})

    auth = RegistryTokenAuth("alice", "s3cret")
    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(auth=auth, transport=transport) as client:
        await client.get("https://registry-1.docker.io/v2/library/app/manifests/1")

    assert seen == [None]
