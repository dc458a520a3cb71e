"""Pull client handling of malformed registry responses.

These cases use httpx.MockTransport because the network is not the point:
each test needs one exact broken response (HTML, a redirect loop, a lying
digest header) that the real docker-registry never sends.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from main.errors import DigestMismatchError, RateLimitedError, RegistryError
from main.oci.client import ClientOptions, RegistryClient, new_http_client
from main.oci.media import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST
from main.reference import parse_reference

pytestmark = pytest.mark.anyio

# Loopback addresses, so that nothing could leave the machine even if the mock
# transport were bypassed.
BASE_URL = "http://127.0.0.1:9"
REFERENCE = parse_reference("library/debian:12")
MANIFESTS = "/v2/library/debian/manifests"
BLOBS = "/v2/library/debian/blobs"
OPTIONS = ClientOptions(connect_retries=0, max_redirects=3)

Route = Callable[[httpx.Request], httpx.Response]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


CONFIG = b'{"architecture": "amd64", "os": "linux"}'
LAYER = b"layer" * 1000
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, CONFIG),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", LAYER)],
    }
).encode()


def registry(routes: dict[tuple[str, str], Route]) -> httpx.MockTransport:
    """Serve `routes` by (method, path); anything else is a 404."""

    def handle(request: httpx.Request) -> httpx.Response:
        route = routes.get((request.method, request.url.path))
        if route is None:
            return httpx.Response(404)
        return route(request)

    return httpx.MockTransport(handle)


def ok(data: bytes, media_type: str, **headers: str) -> Route:
    return lambda request: httpx.Response(
        200, content=data, headers={"content-type": media_type, **headers}
    )


def head_without_digest() -> dict[tuple[str, str], Route]:
    return {("HEAD", f"{MANIFESTS}/12"): lambda request: httpx.Response(200)}


def image_routes() -> dict[tuple[str, str], Route]:
    """Routes of a valid single-manifest image, resolved by tag."""
    return {
        **head_without_digest(),
        ("GET", f"{MANIFESTS}/12"): ok(MANIFEST, OCI_MANIFEST),
        ("GET", f"{BLOBS}/{sha256(CONFIG)}"): ok(CONFIG, "application/octet-stream"),
        ("GET", f"{BLOBS}/{sha256(LAYER)}"): ok(LAYER, "application/octet-stream"),
    }


async def pull_with(routes: dict[tuple[str, str], Route]) -> RegistryClient:
    async with new_http_client(OPTIONS, transport=registry(routes)) as http:
        client = RegistryClient(http, BASE_URL, options=OPTIONS)
        await client.pull(REFERENCE)
    return client


async def test_valid_image_pulls() -> None:
    async with new_http_client(OPTIONS, transport=registry(image_routes())) as http:
        result = await RegistryClient(http, BASE_URL, options=OPTIONS).pull(REFERENCE)

    assert result.manifest_digest == sha256(MANIFEST)
    assert result.blob_bytes == len(CONFIG) + len(LAYER)


async def test_blob_redirect_is_followed() -> None:
    routes = image_routes()
    storage_url = "http://127.0.0.2:9/bucket/layer"
    routes[("GET", f"{BLOBS}/{sha256(LAYER)}")] = lambda request: httpx.Response(
        307, headers={"location": storage_url}
    )
    routes[("GET", "/bucket/layer")] = ok(LAYER, "application/octet-stream")

    await pull_with(routes)


async def test_redirect_loop_is_reported() -> None:
    routes = image_routes()
    url = f"{BASE_URL}{BLOBS}/{sha256(LAYER)}"
    routes[("GET", f"{BLOBS}/{sha256(LAYER)}")] = lambda request: httpx.Response(
        302, headers={"location": url}
    )

    with pytest.raises(RegistryError, match=f"too many redirects from {url}"):
        await pull_with(routes)


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        pytest.param(
            ok(b"<html><body>Bad Gateway</body></html>", "text/html"),
            "got HTML instead of JSON (Content-Type text/html)",
            id="html",
        ),
        pytest.param(
            ok(MANIFEST[:-30], OCI_MANIFEST), "the JSON is truncated", id="truncated"
        ),
        pytest.param(
            ok(CONFIG, OCI_CONFIG), "unsupported media type", id="wrong-media-type"
        ),
        pytest.param(
            ok(b"{" + b" " * (5 << 20) + b"}", OCI_MANIFEST),
            "Content-Length 5242882 exceeds the 4194304-byte limit",
            id="huge-declared",
        ),
    ],
)
async def test_bad_manifest_body_is_reported(route: Route, reason: str) -> None:
    routes = {**head_without_digest(), ("GET", f"{MANIFESTS}/12"): route}

    with pytest.raises(RegistryError) as caught:
        await pull_with(routes)

    message = str(caught.value)
    assert f"invalid manifest from {BASE_URL}{MANIFESTS}/12: " in message
    assert reason in message
    assert "\n" not in message


async def test_huge_streamed_manifest_is_cut_off() -> None:
    sent = []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(100):
            sent.append(1)
            yield b" " * (1 << 20)

    routes = {
        **head_without_digest(),
        ("GET", f"{MANIFESTS}/12"): lambda request: httpx.Response(
            200, content=endless(), headers={"content-type": OCI_MANIFEST}
        ),
    }

    with pytest.raises(RegistryError, match="the body exceeds the 4194304-byte"):
        await pull_with(routes)

    assert len(sent) < 10


async def test_rate_limit_is_reported_with_quota() -> None:
    headers = {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600"}
    body = {"errors": [{"code": "TOOMANYREQUESTS", "message": "pull limit spent"}]}
    routes: dict[tuple[str, str], Route] = {
        ("HEAD", f"{MANIFESTS}/12"): lambda request: httpx.Response(
            429, headers=headers
        ),
        ("GET", f"{MANIFESTS}/12"): lambda request: httpx.Response(
            429, headers=headers, json=body
        ),
    }

    with pytest.raises(RateLimitedError) as caught:
        await pull_with(routes)

    message = str(caught.value)
    assert "rate limit reached for docker.io/library/debian:12" in message
    assert "ratelimit-remaining: 0;w=21600" in message
    # The HEAD answer has no body, so the client asks with GET for the reason.
    assert "TOOMANYREQUESTS pull limit spent" in message


async def test_server_error_is_reported() -> None:
    routes = image_routes()
    routes[("GET", f"{BLOBS}/{sha256(LAYER)}")] = lambda request: httpx.Response(503)

    with pytest.raises(RegistryError) as caught:
        await pull_with(routes)

    assert f"blob {sha256(LAYER)} of docker.io/library/debian:12" in str(caught.value)
    assert caught.value.status == 503


async def test_lying_digest_header_is_caught() -> None:
    routes = image_routes()
    routes[("GET", f"{MANIFESTS}/12")] = ok(
        MANIFEST, OCI_MANIFEST, **{"docker-content-digest": sha256(b"other")}
    )

    with pytest.raises(DigestMismatchError, match=f"content {sha256(b'other')}"):
        await pull_with(routes)


async def test_invalid_head_digest_is_rejected() -> None:
    routes: dict[tuple[str, str], Route] = {
        ("HEAD", f"{MANIFESTS}/12"): lambda request: httpx.Response(
            200, headers={"docker-content-digest": "sha256:../../etc/passwd"}
        )
    }

    with pytest.raises(RegistryError, match="returned an invalid digest"):
        await pull_with(routes)


async def test_manifest_by_digest_must_match() -> None:
    routes = {
        ("HEAD", f"{MANIFESTS}/12"): lambda request: httpx.Response(
            200, headers={"docker-content-digest": sha256(MANIFEST)}
        ),
        ("GET", f"{MANIFESTS}/{sha256(MANIFEST)}"): ok(MANIFEST + b"\n", OCI_MANIFEST),
    }

    with pytest.raises(
        DigestMismatchError, match=f"expected digest {sha256(MANIFEST)}"
    ):
        await pull_with(routes)


async def test_oversized_blob_is_cut_off() -> None:
    routes = image_routes()
    routes[("GET", f"{BLOBS}/{sha256(LAYER)}")] = ok(LAYER + b"x", "x")

    with pytest.raises(DigestMismatchError, match=f"more than {len(LAYER)} bytes"):
        await pull_with(routes)


def _index_of(entry: dict[str, Any]) -> bytes:
    return json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
    ).encode()


async def test_platform_manifest_type_must_match_index() -> None:
    docker_type = "application/vnd.docker.distribution.manifest.v2+json"
    entry = descriptor(
        docker_type, MANIFEST, platform={"os": "linux", "architecture": "amd64"}
    )
    routes = {
        **head_without_digest(),
        ("GET", f"{MANIFESTS}/12"): ok(_index_of(entry), OCI_INDEX),
        ("GET", f"{MANIFESTS}/{sha256(MANIFEST)}"): ok(MANIFEST, OCI_MANIFEST),
    }

    with pytest.raises(RegistryError, match=re.escape(f"differs from {docker_type}")):
        await pull_with(routes)


async def test_deeply_nested_indexes_are_rejected() -> None:
    platform = {"os": "linux", "architecture": "amd64"}
    routes = {**head_without_digest()}
    inner = _index_of(descriptor(OCI_MANIFEST, MANIFEST, platform=platform))
    for _ in range(4):
        outer = _index_of(descriptor(OCI_INDEX, inner, platform=platform))
        routes[("GET", f"{MANIFESTS}/{sha256(inner)}")] = ok(inner, OCI_INDEX)
        inner = outer
    routes[("GET", f"{MANIFESTS}/12")] = ok(inner, OCI_INDEX)

    with pytest.raises(RegistryError, match="nest deeper than 3 levels"):
        await pull_with(routes)
