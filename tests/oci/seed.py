"""Push a small multi-platform OCI image to a real registry with plain httpx.

The image is an OCI index with one manifest per platform. Each platform has
its own config and random layers, plus one layer that all platforms share, as
real multi-platform images often do.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import httpx

from main.oci.media import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST
from tests.fixtures.registry import push_blob, sha256_digest

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class SeededPlatform:
    """One platform's manifest and blobs as pushed."""

    manifest: bytes
    manifest_digest: str
    blobs: dict[str, bytes] = field(default_factory=dict)
    """Config and layers by digest, config first."""


@dataclass(frozen=True)
class SeededImage:
    """A multi-platform image as pushed, with every byte kept for checks."""

    repository: str
    tag: str
    index: bytes
    index_digest: str
    platforms: dict[str, SeededPlatform]
    """Content by platform name such as linux/amd64."""


async def push_multi_platform_image(
    base_url: str,
    repository: str = "library/seeded",
    tag: str = "1",
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64/v8"),
    layer_sizes: tuple[int, ...] = (1000, 70_000, 400_000),
) -> SeededImage:
    """Push random layers, configs, manifests and an index; return the content."""
    shared_layer = os.urandom(5000)
    seeded: dict[str, SeededPlatform] = {}
    entries: list[dict[str, object]] = []
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        for name in platforms:
            layers = [os.urandom(size) for size in layer_sizes] + [shared_layer]
            config = _config(name, layers)
            for blob in (config, *layers):
                await push_blob(client, base_url, repository, blob)
            manifest = _manifest(config, layers)
            digest = await _put_manifest(
                client, base_url, repository, sha256_digest(manifest), manifest
            )
            blobs = {sha256_digest(blob): blob for blob in (config, *layers)}
            seeded[name] = SeededPlatform(manifest, digest, blobs)
            entries.append(_platform_entry(name, manifest))

        index = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
            indent=2,
        ).encode()
        index_digest = await _put_manifest(
            client, base_url, repository, tag, index, OCI_INDEX
        )
    return SeededImage(repository, tag, index, index_digest, seeded)


async def _put_manifest(
    client: httpx.AsyncClient,
    base_url: str,
    repository: str,
    reference: str,
    data: bytes,
    media_type: str = OCI_MANIFEST,
) -> str:
    response = await client.put(
        f"{base_url}/v2/{repository}/manifests/{reference}",
        content=data,
        headers={"content-type": media_type},
    )
    assert response.status_code == 201, response.text
    return sha256_digest(data)


def _config(platform: str, layers: list[bytes]) -> bytes:
    os_name, architecture, *variant = platform.split("/")
    document: dict[str, object] = {
        "architecture": architecture,
        "os": os_name,
        "rootfs": {
            "type": "layers",
            "diff_ids": [sha256_digest(layer) for layer in layers],
        },
    }
    if variant:
        document["variant"] = variant[0]
    return json.dumps(document).encode()


def _manifest(config: bytes, layers: list[bytes]) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(OCI_CONFIG, config),
        "layers": [_descriptor(LAYER, layer) for layer in layers],
    }
    return json.dumps(document, indent=2).encode()


def _platform_entry(platform: str, manifest: bytes) -> dict[str, object]:
    os_name, architecture, *variant = platform.split("/")
    entry: dict[str, object] = _descriptor(OCI_MANIFEST, manifest)
    described: dict[str, str] = {"os": os_name, "architecture": architecture}
    if variant:
        described["variant"] = variant[0]
    entry["platform"] = described
    return entry


def _descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}
