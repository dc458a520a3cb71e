"""Write and read OCI image layouts.

An OCI image layout is a directory with an `oci-layout` marker, an
`index.json` that names the images it holds, and content-addressed blobs under
`blobs/sha256/`. Each layout written here contains one multi-platform image: an
OCI image index whose manifests each have a config and gzip layers, the shape
of Docker Hub's official images. The tag is stored in the
`org.opencontainers.image.ref.name` annotation of `index.json`, which skopeo
and containerd read.

JSON documents are serialised compactly with keys in a fixed order, so the
same inputs give the same digests.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from main.oci.media import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST
from main.stack.layers import LayerBlob

__all__ = [
    "OCI_LAYER_GZIP",
    "REF_NAME_ANNOTATION",
    "Blob",
    "Descriptor",
    "ImageLayout",
    "LayoutPlatform",
    "PlatformImage",
    "RuntimeConfig",
    "read_layout",
    "write_image",
    "write_index",
]

OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
_LAYOUT_MARKER = {"imageLayoutVersion": "1.0.0"}


@dataclass(frozen=True)
class LayoutPlatform:
    """An image platform as written in an index: os, architecture, variant."""

    architecture: str
    os: str = "linux"
    variant: str = ""

    def __str__(self) -> str:
        parts = [self.os, self.architecture, self.variant]
        return "/".join(part for part in parts if part)

    def to_json(self) -> dict[str, str]:
        """Return the `platform` object of an index entry."""
        document = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            document["variant"] = self.variant
        return document


@dataclass(frozen=True)
class Descriptor:
    """A reference to a blob: media type, digest and size."""

    media_type: str
    digest: str
    size: int
    platform: LayoutPlatform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the descriptor as it appears in manifests and indexes."""
        document: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform is not None:
            document["platform"] = self.platform.to_json()
        if self.annotations:
            document["annotations"] = dict(sorted(self.annotations.items()))
        return document


@dataclass(frozen=True)
class RuntimeConfig:
    """The run defaults in an image config: environment and command."""

    env: tuple[str, ...]
    cmd: tuple[str, ...]


@dataclass(frozen=True)
class Blob:
    """A blob in a layout: digest, size and media type."""

    digest: str
    size: int
    media_type: str


@dataclass(frozen=True)
class PlatformImage:
    """The manifest, config and layers of one platform of an image."""

    platform: LayoutPlatform
    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]
    uncompressed_layer_size: int

    @property
    def compressed_size(self) -> int:
        """Bytes a client downloads for this platform: manifest, config, layers."""
        blobs = (self.manifest, self.config, *self.layers)
        return sum(blob.size for blob in blobs)


@dataclass(frozen=True)
class ImageLayout:
    """A multi-platform image stored as an OCI image layout directory.

    It is path-like, so it can be passed wherever the directory is expected.
    """

    path: Path
    tag: str
    index: Blob
    platforms: tuple[PlatformImage, ...]

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def index_digest(self) -> str:
        """Digest of the image index, the digest a registry reports for the tag."""
        return self.index.digest

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """Every blob of the image once: index, manifests, configs, layers."""
        unique: dict[str, Blob] = {self.index.digest: self.index}
        for image in self.platforms:
            for blob in (image.manifest, image.config, *image.layers):
                unique.setdefault(blob.digest, blob)
        return tuple(unique.values())

    def blob_path(self, digest: str) -> Path:
        """Return the path of the blob with `digest`."""
        algorithm, _, encoded = digest.partition(":")
        return self.path / "blobs" / algorithm / encoded


def write_image(
    layout_dir: Path,
    platform: LayoutPlatform,
    layers: Sequence[LayerBlob],
    runtime: RuntimeConfig,
    *,
    epoch: int,
    created_by: Sequence[str],
) -> Descriptor:
    """Write the config and manifest of one platform; return the manifest.

    `created_by` has one history entry per layer, such as the command that
    produced its files. The layer blobs must already be in the layout.
    """
    created = _timestamp(epoch)
    config = {
        "created": created,
        "architecture": platform.architecture,
        "os": platform.os,
        **({"variant": platform.variant} if platform.variant else {}),
        "config": {"Env": list(runtime.env), "Cmd": list(runtime.cmd)},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [
            {"created": created, "created_by": command, "comment": _layer_comment(lay)}
            for command, lay in zip(created_by, layers, strict=True)
        ],
    }
    config_descriptor = _write_json_blob(layout_dir, config, OCI_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_descriptor.to_json(),
        "layers": [
            Descriptor(OCI_LAYER_GZIP, layer.digest, layer.size).to_json()
            for layer in layers
        ],
    }
    written = _write_json_blob(layout_dir, manifest, OCI_MANIFEST)
    return Descriptor(written.media_type, written.digest, written.size, platform)


def write_index(
    layout_dir: Path,
    manifests: Sequence[Descriptor],
    tag: str,
    annotations: Mapping[str, str] | None = None,
) -> Descriptor:
    """Write the image index, `index.json` and `oci-layout`; return the index."""
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [manifest.to_json() for manifest in manifests],
        **({"annotations": dict(sorted(annotations.items()))} if annotations else {}),
    }
    written = _write_json_blob(layout_dir, index, OCI_INDEX)
    top = Descriptor(
        OCI_INDEX, written.digest, written.size, annotations={REF_NAME_ANNOTATION: tag}
    )
    layout_index = {"schemaVersion": 2, "manifests": [top.to_json()]}
    (layout_dir / "index.json").write_bytes(_dump(layout_index))
    (layout_dir / "oci-layout").write_bytes(_dump(_LAYOUT_MARKER))
    return top


def read_layout(path: Path) -> ImageLayout:
    """Read a layout written by `write_index` back into an ImageLayout.

    Raises OSError or ValueError when files are missing or malformed.
    """
    top = json.loads((path / "index.json").read_bytes())["manifests"][0]
    index_blob = _blob(top)
    index = _load_blob(path, index_blob.digest)
    platforms = tuple(_read_platform(path, entry) for entry in index["manifests"])
    return ImageLayout(
        path=path,
        tag=top.get("annotations", {}).get(REF_NAME_ANNOTATION, ""),
        index=index_blob,
        platforms=platforms,
    )


def _read_platform(path: Path, entry: Mapping[str, Any]) -> PlatformImage:
    manifest_blob = _blob(entry)
    manifest = _load_blob(path, manifest_blob.digest)
    layers = tuple(_blob(layer) for layer in manifest["layers"])
    platform = entry.get("platform", {})
    return PlatformImage(
        platform=LayoutPlatform(
            architecture=platform.get("architecture", ""),
            os=platform.get("os", ""),
            variant=platform.get("variant", ""),
        ),
        manifest=manifest_blob,
        config=_blob(manifest["config"]),
        layers=layers,
        uncompressed_layer_size=sum(
            _gzip_uncompressed_size(_blob_file(path, layer.digest)) for layer in layers
        ),
    )


def _gzip_uncompressed_size(path: Path) -> int:
    """Return the size stored in a gzip trailer: the input size modulo 2**32."""
    with path.open("rb") as file:
        file.seek(-4, 2)
        (size,) = struct.unpack("<I", file.read(4))
    return int(size)


def _blob(descriptor: Mapping[str, Any]) -> Blob:
    return Blob(
        digest=descriptor["digest"],
        size=int(descriptor["size"]),
        media_type=descriptor["mediaType"],
    )


def _load_blob(path: Path, digest: str) -> Any:
    return json.loads(_blob_file(path, digest).read_bytes())


def _blob_file(path: Path, digest: str) -> Path:
    algorithm, _, encoded = digest.partition(":")
    return path / "blobs" / algorithm / encoded


def _write_json_blob(
    layout_dir: Path, document: Mapping[str, Any], media_type: str
) -> Descriptor:
    data = _dump(document)
    digest = f"sha256:{_sha256(data)}"
    target = _blob_file(layout_dir, digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return Descriptor(media_type, digest, len(data))


def _dump(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _timestamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _layer_comment(layer: LayerBlob) -> str:
    if not layer.root:
        return "files outside the other layers"
    return f"files under /{layer.root}"
