"""Pull tests against the real docker-registry binary on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from main.errors import DigestMismatchError, ManifestNotFoundError
from main.oci.client import ClientOptions, RegistryClient, new_http_client
from main.oci.manifest import Descriptor
from main.oci.platform import Platform, parse_platform
from main.oci.sinks import BlobWriter, DirectorySink
from main.reference import ImageReference, parse_reference
from main.stack.registry import RegistryServer
from tests.fixtures.registry import push_synthetic_image
from tests.oci.conftest import TEST_OPTIONS
from tests.oci.seed import SeededImage

pytestmark = pytest.mark.anyio

ARM64 = Platform("linux", "arm64")


def _client(http: httpx.AsyncClient, server: RegistryServer) -> RegistryClient:
    return RegistryClient(http, server.base_url, options=TEST_OPTIONS)


def _reference(image: SeededImage) -> ImageReference:
    return parse_reference(f"docker.io/{image.repository}:{image.tag}")


def _blob_path(server: RegistryServer, digest: str) -> Path:
    hex_part = digest.removeprefix("sha256:")
    return (
        server.storage_dir
        / "docker/registry/v2/blobs/sha256"
        / hex_part[:2]
        / hex_part
        / "data"
    )


def _partial_files(root: Path) -> list[Path]:
    return list(root.rglob("*.partial"))


def _largest_layer(image: SeededImage, platform: str) -> str:
    blobs = image.platforms[platform].blobs
    return max(blobs, key=lambda digest: len(blobs[digest]))


async def test_pull_verifies_every_blob(
    http_client: httpx.AsyncClient,
    upstream_server: RegistryServer,
    seeded_image: SeededImage,
) -> None:
    expected = seeded_image.platforms["linux/amd64"]

    result = await _client(http_client, upstream_server).pull(_reference(seeded_image))

    assert result.index_digest == seeded_image.index_digest
    assert result.manifest_digest == expected.manifest_digest
    assert result.blob_count == len(expected.blobs)
    assert dict(result.blob_sizes) == {
        digest: len(data) for digest, data in expected.blobs.items()
    }
    assert result.manifest_bytes == len(seeded_image.index) + len(expected.manifest)
    assert result.total_bytes == result.manifest_bytes + sum(
        len(data) for data in expected.blobs.values()
    )
    assert result.elapsed_seconds > 0
    assert result.retries == 0


async def test_pull_into_directory(
    http_client: httpx.AsyncClient,
    upstream_server: RegistryServer,
    seeded_image: SeededImage,
    tmp_path: Path,
) -> None:
    sink = DirectorySink(tmp_path)
    expected = seeded_image.platforms["linux/arm64/v8"]

    result = await _client(http_client, upstream_server).pull(
        _reference(seeded_image), ARM64, sink
    )

    assert result.manifest_digest == expected.manifest_digest
    for digest, data in expected.blobs.items():
        assert sink.path_for(digest).read_bytes() == data
    assert sink.path_for(expected.manifest_digest).read_bytes() == expected.manifest
    assert sink.path_for(seeded_image.index_digest).read_bytes() == seeded_image.index
    assert _partial_files(tmp_path) == []


async def test_pull_by_digest(
    http_client: httpx.AsyncClient,
    upstream_server: RegistryServer,
    seeded_image: SeededImage,
) -> None:
    reference = parse_reference(
        f"{seeded_image.repository}@{seeded_image.index_digest}"
    )

    result = await _client(http_client, upstream_server).pull(reference, ARM64)

    assert result.index_digest == seeded_image.index_digest
    assert (
        result.manifest_digest
        == seeded_image.platforms["linux/arm64/v8"].manifest_digest
    )


async def test_pull_single_manifest_image(
    http_client: httpx.AsyncClient, upstream_server: RegistryServer
) -> None:
    image = await push_synthetic_image(upstream_server.base_url, name="team/single")

    result = await _client(http_client, upstream_server).pull(
        parse_reference("team/single")
    )

    assert result.index_digest is None
    assert result.manifest_digest == image.manifest_digest
    assert result.blob_count == 1 + len(image.layers)


async def test_resolve_sends_head_then_get_by_digest(
    upstream_server: RegistryServer, seeded_image: SeededImage
) -> None:
    requests: list[tuple[str, str, str]] = []

    async def record(request: httpx.Request) -> None:
        accept = request.headers.get("accept", "")
        requests.append((request.method, request.url.path, accept))

    async with new_http_client(TEST_OPTIONS) as http:
        http.event_hooks["request"].append(record)
        fetched = await _client(http, upstream_server).resolve(_reference(seeded_image))

    base = f"/v2/{seeded_image.repository}/manifests"
    assert [(method, path) for method, path, _ in requests] == [
        ("HEAD", f"{base}/{seeded_image.tag}"),
        ("GET", f"{base}/{seeded_image.index_digest}"),
    ]
    for _, _, accept in requests:
        assert "application/vnd.oci.image.index.v1+json" in accept
        assert "application/vnd.docker.distribution.manifest.list.v2+json" in accept
        assert "application/vnd.oci.image.manifest.v1+json" in accept
        assert "application/vnd.docker.distribution.manifest.v2+json" in accept
    assert fetched.digest == seeded_image.index_digest


async def test_unknown_tag_names_reference(
    http_client: httpx.AsyncClient,
    upstream_server: RegistryServer,
    seeded_image: SeededImage,
) -> None:
    reference = parse_reference(f"{seeded_image.repository}:missing")

    with pytest.raises(ManifestNotFoundError) as caught:
        await _client(http_client, upstream_server).pull(reference)

    message = str(caught.value)
    assert message.startswith("docker.io/library/seeded:missing not found at ")
    assert "/v2/library/seeded/manifests/missing (404)" in message
    assert caught.value.status == 404


async def test_unknown_platform_lists_offered(
    http_client: httpx.AsyncClient,
    upstream_server: RegistryServer,
    seeded_image: SeededImage,
) -> None:
    client = _client(http_client, upstream_server)

    with pytest.raises(ManifestNotFoundError) as caught:
        await client.pull(_reference(seeded_image), parse_platform("linux/s390x"))

    assert "offers: linux/amd64, linux/arm64/v8" in str(caught.value)


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda data: os.urandom(len(data)), id="same-size"),
        pytest.param(lambda data: data[:-100], id="truncated"),
        pytest.param(lambda data: data[:1000] + b"x" + data[1001:], id="one-byte"),
    ],
)
async def test_corrupt_upstream_blob_is_caught(
    http_client: httpx.AsyncClient,
    upstream_server: RegistryServer,
    seeded_image: SeededImage,
    tmp_path: Path,
    corrupt: Callable[[bytes], bytes],
) -> None:
    digest = _largest_layer(seeded_image, "linux/amd64")
    stored = _blob_path(upstream_server, digest)
    stored.write_bytes(corrupt(stored.read_bytes()))
    sink = DirectorySink(tmp_path)

    with pytest.raises(DigestMismatchError) as caught:
        await _client(http_client, upstream_server).pull(
            _reference(seeded_image), sink=sink
        )

    message = str(caught.value)
    assert f"content {digest} from " in message
    assert "failed verification" in message
    assert not sink.path_for(digest).exists()
    assert _partial_files(tmp_path) == []


class _CountingSink:
    """Record how many blobs are open for writing at the same time."""

    def __init__(self) -> None:
        self.open = 0
        self.max_open = 0

    async def open_blob(self, descriptor: Descriptor) -> BlobWriter:
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        return _CountingWriter(self)


class _CountingWriter:
    def __init__(self, sink: _CountingSink) -> None:
        self._sink = sink

    async def write(self, chunk: bytes) -> None:
        pass

    async def commit(self) -> None:
        self._sink.open -= 1

    async def abort(self) -> None:
        self._sink.open -= 1


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_concurrency_is_bounded(
    http_client: httpx.AsyncClient,
    upstream_server: RegistryServer,
    seeded_image: SeededImage,
    concurrency: int,
) -> None:
    options = ClientOptions(concurrency=concurrency)
    client = RegistryClient(http_client, upstream_server.base_url, options=options)
    sink = _CountingSink()

    result = await client.pull(_reference(seeded_image), sink=sink)

    assert sink.max_open <= concurrency
    assert result.blob_count == 5
