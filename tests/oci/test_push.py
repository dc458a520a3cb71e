"""Tests for pushing OCI layouts to the real docker-registry, checked by skopeo."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from main.errors import RegistryError, UsageError
from main.oci.push import push_layout
from main.stack.images import SMALL_IMAGE
from main.stack.layout import ImageLayout
from main.stack.ports import free_port
from tests.stack.tartools import write_tiny_layout

REPOSITORY = SMALL_IMAGE.repository
TAG = SMALL_IMAGE.tag


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(trust_env=False, timeout=30.0)


def skopeo(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.anyio
async def test_push_uploads_every_blob(
    upstream_registry: str, small_image_layout: ImageLayout
) -> None:
    async with client() as http:
        result = await push_layout(
            http, upstream_registry, small_image_layout, REPOSITORY, TAG
        )

    # Configs and layers are blobs; the index and manifests are not.
    expected = sum(1 + len(p.layers) for p in small_image_layout.platforms)
    assert result.digest == small_image_layout.index_digest
    assert result.uploaded_blobs == expected
    assert result.skipped_blobs == 0


@pytest.mark.anyio
async def test_second_push_skips_existing_blobs(
    small_image_upstream: str, small_image_layout: ImageLayout
) -> None:
    async with client() as http:
        result = await push_layout(
            http, small_image_upstream, small_image_layout, REPOSITORY, TAG
        )

    assert result.uploaded_blobs == 0
    assert result.uploaded_bytes == 0
    assert result.skipped_blobs == sum(
        1 + len(p.layers) for p in small_image_layout.platforms
    )


@pytest.mark.anyio
async def test_skopeo_reads_pushed_index(
    small_image_upstream: str, small_image_layout: ImageLayout
) -> None:
    host = small_image_upstream.removeprefix("http://")

    completed = skopeo(
        "inspect", "--tls-verify=false", "--raw", f"docker://{host}/{REPOSITORY}:{TAG}"
    )

    assert completed.returncode == 0, completed.stderr
    raw = completed.stdout.encode()
    assert f"sha256:{hashlib.sha256(raw).hexdigest()}" == (
        small_image_layout.index_digest
    )
    platforms = [m["platform"] for m in json.loads(raw)["manifests"]]
    assert {"architecture": "arm64", "os": "linux", "variant": "v8"} in platforms


@pytest.mark.anyio
async def test_skopeo_copies_arm64_platform(
    small_image_upstream: str, small_image_layout: ImageLayout, tmp_path: Path
) -> None:
    host = small_image_upstream.removeprefix("http://")
    target = tmp_path / "arm64"

    completed = skopeo(
        "copy",
        "--src-tls-verify=false",
        "--override-arch=arm64",
        "--override-variant=v8",
        f"docker://{host}/{REPOSITORY}:{TAG}",
        f"dir:{target}",
    )

    assert completed.returncode == 0, completed.stderr
    arm64 = small_image_layout.platforms[1]
    manifest = (target / "manifest.json").read_bytes()
    assert f"sha256:{hashlib.sha256(manifest).hexdigest()}" == arm64.manifest.digest
    for layer in arm64.layers:
        assert (target / layer.digest.removeprefix("sha256:")).is_file()


class RecordingTransport(httpx.AsyncBaseTransport):
    """Accept every push request and record how each blob upload arrived."""

    def __init__(self) -> None:
        self.uploads: dict[str, tuple[int, str | None, str | None]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(404)
        if request.method == "POST":
            return httpx.Response(202, headers={"location": "/upload/1?state=x"})
        if request.url.path == "/upload/1":
            stream = request.stream
            assert isinstance(stream, httpx.AsyncByteStream)
            chunks = [chunk async for chunk in stream]
            self.uploads[request.url.params["digest"]] = (
                len(chunks),
                request.headers.get("content-length"),
                request.headers.get("transfer-encoding"),
            )
        return httpx.Response(201)


@pytest.mark.anyio
async def test_push_streams_blob_in_chunks(tmp_path: Path) -> None:
    # Random data does not compress, so the layer spans several read chunks.
    layout = write_tiny_layout(tmp_path, file_size=3 * 1024 * 1024)
    layer = layout.platforms[0].layers[0]
    transport = RecordingTransport()

    async with httpx.AsyncClient(transport=transport) as http:
        await push_layout(http, "http://registry.test", layout, "tiny", "tiny")

    chunk_count, length, encoding = transport.uploads[layer.digest]
    assert chunk_count > 1
    assert length == str(layer.size)
    assert encoding is None


@pytest.mark.anyio
async def test_registry_rejection_names_url_and_status(
    upstream_registry: str, tmp_path: Path
) -> None:
    layout = write_tiny_layout(tmp_path)

    async with client() as http:
        with pytest.raises(RegistryError) as caught:
            await push_layout(http, upstream_registry, layout, "Bad_Name", "tiny")

    assert caught.value.status == 404
    assert caught.value.url.startswith(f"{upstream_registry}/v2/Bad_Name/")
    assert "of Bad_Name" in str(caught.value)


@pytest.mark.anyio
async def test_unreachable_registry_is_registry_error(tmp_path: Path) -> None:
    layout = write_tiny_layout(tmp_path)
    base_url = f"http://127.0.0.1:{free_port()}"

    async with client() as http:
        with pytest.raises(RegistryError) as caught:
            await push_layout(http, base_url, layout, "tiny", "tiny")

    assert caught.value.status == 0
    assert caught.value.url.startswith(base_url)


@pytest.mark.anyio
async def test_missing_blob_is_usage_error(tmp_path: Path) -> None:
    layout = write_tiny_layout(tmp_path)
    layout.blob_path(layout.platforms[0].layers[0].digest).unlink()

    async with client() as http:
        with pytest.raises(UsageError, match="is missing"):
            await push_layout(http, "http://127.0.0.1:9", layout, "tiny", "tiny")


@pytest.mark.anyio
async def test_unknown_tag_is_usage_error(tmp_path: Path) -> None:
    layout = write_tiny_layout(tmp_path)
    index_json = layout.path / "index.json"
    document = json.loads(index_json.read_bytes())
    document["manifests"].append(document["manifests"][0])
    index_json.write_text(json.dumps(document))

    async with client() as http:
        with pytest.raises(UsageError, match="no image tagged 'other'"):
            await push_layout(http, "http://127.0.0.1:9", layout, "tiny", "other")
