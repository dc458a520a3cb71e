"""A registry on 127.0.0.1 that responds to each repository with one kind of fault.

The first path component of the repository names the fault, so
`html/app:1` gets HTML where a manifest belongs and `redirect-loop/app:1`
gets a redirect to itself. The real CLI runs as a subprocess against it, so
it is a real HTTP server rather than a mock transport.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from main.oci.media import OCI_CONFIG, OCI_MANIFEST
from main.stack.asgi_server import bind_socket, serve_asgi

FAULTS = (
    "html",
    "truncated",
    "wrong-media-type",
    "huge",
    "redirect-loop",
    "slow-loris",
    "server-error",
    "rate-limited",
    "unknown",
    "blob-mismatch",
)
CONFIG = b'{"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}'
LAYER = b"layer bytes " * 100
# Bytes of the huge manifest: more than the client's 4 MiB manifest limit.
HUGE_BYTES = 5 * 1024 * 1024
# Seconds between the bytes of a slow-loris manifest.
TRICKLE_SECONDS = 1.0


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, CONFIG),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", LAYER)],
    }
).encode()

# A config document where the manifest belongs, labelled as what it is.
CONFIG_AS_MANIFEST = json.dumps(
    {"schemaVersion": 2, "mediaType": OCI_CONFIG, "architecture": "amd64"}
).encode()


def registry_error(status: int, code: str, message: str) -> Response:
    body = {"errors": [{"code": code, "message": message, "detail": None}]}
    return JSONResponse(body, status_code=status)


async def trickle(data: bytes) -> AsyncIterator[bytes]:
    for index in range(len(data)):
        yield data[index : index + 1]
        await anyio.sleep(TRICKLE_SECONDS)


async def huge_body() -> AsyncIterator[bytes]:
    chunk = b" " * 65536
    for _ in range(HUGE_BYTES // len(chunk)):
        yield chunk


def manifest_response(fault: str, request: Request) -> Response:
    if request.method == "HEAD":
        return Response(status_code=200, media_type=OCI_MANIFEST)
    if fault == "html":
        return Response("<html><body>Sign in</body></html>", media_type="text/html")
    if fault == "truncated":
        return Response(MANIFEST[: len(MANIFEST) // 2], media_type=OCI_MANIFEST)
    if fault == "wrong-media-type":
        return Response(CONFIG_AS_MANIFEST, media_type=OCI_CONFIG)
    if fault == "huge":
        return StreamingResponse(huge_body(), media_type=OCI_MANIFEST)
    if fault == "redirect-loop":
        return RedirectResponse(str(request.url), status_code=307)
    if fault == "slow-loris":
        return StreamingResponse(trickle(MANIFEST), media_type=OCI_MANIFEST)
    if fault == "server-error":
        return registry_error(500, "UNKNOWN", "internal error")
    if fault == "rate-limited":
        return registry_error(429, "TOOMANYREQUESTS", "pull rate limit reached")
    if fault == "unknown":
        return registry_error(404, "MANIFEST_UNKNOWN", "manifest unknown")
    return Response(MANIFEST, media_type=OCI_MANIFEST)


def blob_response(fault: str, digest: str) -> Response:
    content = {sha256(CONFIG): CONFIG, sha256(LAYER): LAYER}.get(digest)
    if content is None:
        return registry_error(404, "BLOB_UNKNOWN", "blob unknown")
    if fault == "blob-mismatch" and content is LAYER:
        content = LAYER.replace(b"layer", b"LAYER", 1)
    return Response(content, media_type="application/octet-stream")


async def handle(request: Request) -> Response:
    path = request.path_params["path"]
    if path == "":
        return JSONResponse({})
    repository, _, rest = path.partition("/")
    kind, _, reference = path.rpartition("/")
    fault = repository
    if kind.endswith("/manifests"):
        return manifest_response(fault, request)
    if kind.endswith("/blobs"):
        return blob_response(fault, reference)
    return registry_error(404, "NAME_UNKNOWN", f"unknown path {rest}")


def create_app() -> Starlette:
    routes = [Route("/v2/{path:path}", handle, methods=["GET", "HEAD"])]
    return Starlette(routes=routes)


@asynccontextmanager
async def run_bad_registry() -> AsyncIterator[str]:
    """Serve the faulty registry on a free port; yield its base URL."""
    sock = bind_socket(None, "--port")
    port = sock.getsockname()[1]
    try:
        async with serve_asgi(create_app(), sock, name="faulty registry"):
            yield f"http://127.0.0.1:{port}"
    finally:
        sock.close()
