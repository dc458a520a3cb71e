"""An upstream that misbehaves on purpose: huge manifests, broken objects.

A scripted upstream on loopback responds here, because a real registry
refuses to store a manifest this large.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from main.gateway import GatewayConfig, run_gateway
from main.gateway.fetch import MAX_MANIFEST_BYTES
from main.stack.asgi_server import bind_socket, serve_asgi

pytestmark = pytest.mark.anyio

INDEX = "application/vnd.oci.image.index.v1+json"


async def hostile_upstream(request: Request) -> Response:
    path = request.url.path
    if path == "/v2/":
        return Response(status_code=200)
    if path.endswith("/manifests/bomb"):
        entry = {"mediaType": INDEX, "digest": "sha256:" + "0" * 64, "size": 1}
        count = MAX_MANIFEST_BYTES // len(json.dumps(entry)) + 10
        body = json.dumps({"schemaVersion": 2, "manifests": [entry] * count})
        return Response(body, media_type=INDEX)
    if path.endswith("/manifests/broken"):
        return JSONResponse({"errors": [{"code": "UNKNOWN"}]}, status_code=500)
    if path.endswith("/manifests/fine"):
        body = json.dumps({"schemaVersion": 2, "manifests": []})
        return Response(body, media_type=INDEX)
    return Response(status_code=404)


@pytest.fixture
async def hostile_config(tmp_path: Path) -> AsyncIterator[GatewayConfig]:
    for folder in ("state", "spool"):
        (tmp_path / folder).mkdir()
    app = Starlette(
        routes=[Route("/{path:path}", hostile_upstream, methods=["GET", "HEAD"])]
    )
    sock = bind_socket(None, "--port")
    async with serve_asgi(app, sock, name="hostile upstream"):
        yield GatewayConfig(
            upstream_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
            state_dir=tmp_path / "state",
            spool_dir=tmp_path / "spool",
            use_env_proxy=False,
        )
    sock.close()


async def test_oversized_manifest_is_rejected(hostile_config: GatewayConfig) -> None:
    async with (
        run_gateway(hostile_config) as server,
        httpx.AsyncClient(trust_env=False, timeout=10.0) as client,
    ):
        response = await client.get(f"{server.url}/v2/library/evil/manifests/bomb")

    assert response.status_code == 502
    error = response.json()["errors"][0]
    assert error["code"] == "MANIFEST_INVALID"
    assert str(MAX_MANIFEST_BYTES) in error["message"]


async def test_broken_object_does_not_stop_others(
    hostile_config: GatewayConfig,
) -> None:
    config = dataclasses.replace(hostile_config, backoff_initial=30.0)

    async with (
        run_gateway(config) as server,
        httpx.AsyncClient(trust_env=False, timeout=10.0) as client,
    ):
        broken = await client.get(f"{server.url}/v2/library/app/manifests/broken")
        fine = await client.get(f"{server.url}/v2/library/app/manifests/fine")

    assert broken.status_code == 500
    # Before, one client's broken object put every fetch into a back-off.
    assert fine.status_code == 200
