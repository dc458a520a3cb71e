"""Tests for writing and reading OCI image layouts from tiny layers."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from main.oci.media import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST
from main.stack.layers import read_tree, split_tree, write_layer
from main.stack.layout import (
    OCI_LAYER_GZIP,
    Descriptor,
    ImageLayout,
    LayoutPlatform,
    RuntimeConfig,
    read_layout,
    write_image,
    write_index,
)
from tests.stack.tartools import EPOCH, small_root, write_tar

ROOTS = ("", "usr/share", "usr", "usr/lib")
AMD64 = LayoutPlatform("amd64")
ARM64 = LayoutPlatform("arm64", variant="v8")
RUNTIME = RuntimeConfig(env=("PATH=/usr/bin:/bin",), cmd=("bash",))


def load_blob(layout: Path, digest: str) -> Any:
    return json.loads((layout / "blobs" / "sha256" / digest[7:]).read_bytes())


def write_platform(layout: Path, tar: Path, platform: LayoutPlatform) -> Descriptor:
    plans = split_tree(read_tree(tar, EPOCH), ROOTS, EPOCH)
    layers = [write_layer(plan, layout / "blobs" / "sha256") for plan in plans]
    created_by = [f"build {layer.root}" for layer in layers]
    return write_image(
        layout, platform, layers, RUNTIME, epoch=EPOCH, created_by=created_by
    )


@pytest.fixture
def layout_dir(tmp_path: Path) -> Path:
    tar = write_tar(tmp_path / "root.tar", small_root())
    layout = tmp_path / "layout"
    manifests = [write_platform(layout, tar, AMD64), write_platform(layout, tar, ARM64)]
    write_index(layout, manifests, "v1", {"org.opencontainers.image.description": "t"})
    return layout


@pytest.fixture
def layout(layout_dir: Path) -> ImageLayout:
    return read_layout(layout_dir)


def test_layout_marker_and_index_json(layout_dir: Path) -> None:
    marker = json.loads((layout_dir / "oci-layout").read_bytes())
    index_json = json.loads((layout_dir / "index.json").read_bytes())

    assert marker == {"imageLayoutVersion": "1.0.0"}
    (top,) = index_json["manifests"]
    assert top["mediaType"] == OCI_INDEX
    assert top["annotations"] == {"org.opencontainers.image.ref.name": "v1"}


def test_index_lists_both_platforms(layout_dir: Path, layout: ImageLayout) -> None:
    index = load_blob(layout_dir, layout.index_digest)

    platforms = [entry["platform"] for entry in index["manifests"]]
    assert index["mediaType"] == OCI_INDEX
    assert platforms == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    assert all(entry["mediaType"] == OCI_MANIFEST for entry in index["manifests"])


def test_manifest_media_types(layout_dir: Path, layout: ImageLayout) -> None:
    manifest = load_blob(layout_dir, layout.platforms[0].manifest.digest)

    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["mediaType"] == OCI_CONFIG
    assert {layer["mediaType"] for layer in manifest["layers"]} == {OCI_LAYER_GZIP}
    assert len(manifest["layers"]) == 4


@pytest.mark.parametrize(
    ("index", "architecture", "variant"),
    [
        pytest.param(0, "amd64", None, id="amd64"),
        pytest.param(1, "arm64", "v8", id="arm64"),
    ],
)
def test_config_names_platform(
    layout_dir: Path,
    layout: ImageLayout,
    index: int,
    architecture: str,
    variant: str | None,
) -> None:
    config = load_blob(layout_dir, layout.platforms[index].config.digest)

    assert config["architecture"] == architecture
    assert config["os"] == "linux"
    assert config.get("variant") == variant


def test_config_diff_ids_match_layers(layout_dir: Path, layout: ImageLayout) -> None:
    image = layout.platforms[0]
    config = load_blob(layout_dir, image.config.digest)

    actual = [
        "sha256:"
        + hashlib.sha256(
            gzip.decompress(layout.blob_path(b.digest).read_bytes())
        ).hexdigest()
        for b in image.layers
    ]
    assert config["rootfs"] == {"type": "layers", "diff_ids": actual}


def test_config_runtime_and_history(layout_dir: Path, layout: ImageLayout) -> None:
    config = load_blob(layout_dir, layout.platforms[0].config.digest)

    assert config["config"] == {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["bash"]}
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert len(config["history"]) == len(config["rootfs"]["diff_ids"])
    assert config["history"][1]["comment"] == "files under /usr/share"


def test_every_blob_matches_its_digest(layout: ImageLayout) -> None:
    for blob in layout.blobs:
        data = layout.blob_path(blob.digest).read_bytes()

        assert blob.digest == "sha256:" + hashlib.sha256(data).hexdigest()
        assert blob.size == len(data)


def test_read_layout_reports_sizes(layout: ImageLayout) -> None:
    image = layout.platforms[0]

    layer_bytes = sum(layer.size for layer in image.layers)
    assert layout.tag == "v1"
    assert image.compressed_size == image.manifest.size + image.config.size + (
        layer_bytes
    )
    assert image.uncompressed_layer_size > layer_bytes


def test_layout_is_deterministic(tmp_path: Path, layout: ImageLayout) -> None:
    tar = write_tar(tmp_path / "again.tar", small_root())
    again = tmp_path / "again"

    manifests = [write_platform(again, tar, AMD64), write_platform(again, tar, ARM64)]
    top = write_index(
        again, manifests, "v1", {"org.opencontainers.image.description": "t"}
    )

    assert top.digest == layout.index_digest


def test_skopeo_copies_one_platform(layout_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "copied"

    completed = subprocess.run(
        [
            "skopeo",
            "copy",
            "--override-arch=arm64",
            "--override-variant=v8",
            f"oci:{layout_dir}:v1",
            f"dir:{target}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    config = json.loads((target / "manifest.json").read_bytes())["config"]
    assert json.loads((target / config["digest"][7:]).read_bytes())["variant"] == "v8"
