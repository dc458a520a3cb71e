"""Parse image indexes and manifests, and pick the manifest for a platform.

Parsing is pure: it takes the bytes and the Content-Type header of a registry
response and returns an `ImageIndex` (OCI index or Docker manifest list) or an
`ImageManifest` (OCI or Docker v2 manifest). Every problem raises
`RegistryError` with one line naming the URL and what was wrong, because a bad
manifest is the registry's fault, not the user's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from main.errors import ManifestNotFoundError, RegistryError
from main.oci.media import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_SCHEMA1_MANIFESTS,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
)
from main.oci.platform import Platform, normalize_platform, platform_preferences
from main.reference import digest_problem

__all__ = [
    "MAX_MANIFEST_BYTES",
    "Descriptor",
    "ImageIndex",
    "ImageManifest",
    "Manifest",
    "parse_manifest",
    "select_manifest",
]

# Real indexes and manifests are a few kilobytes. The cap keeps a broken or
# hostile registry from making the client buffer an unbounded body.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

_T = TypeVar("_T")

_JSON_TYPES = frozenset({"application/json", "text/plain", "application/octet-stream"})


@dataclass(frozen=True)
class Descriptor:
    """A reference to content by media type, digest and size."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None


@dataclass(frozen=True)
class ImageIndex:
    """An OCI image index or Docker manifest list: one manifest per platform."""

    media_type: str
    manifests: tuple[Descriptor, ...]


@dataclass(frozen=True)
class ImageManifest:
    """An OCI or Docker v2 image manifest: one config blob and its layers."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Config and layers without repeated digests, config first."""
        unique: dict[str, Descriptor] = {}
        for descriptor in (self.config, *self.layers):
            unique.setdefault(descriptor.digest, descriptor)
        return tuple(unique.values())


Manifest = ImageIndex | ImageManifest


def parse_manifest(
    data: bytes,
    content_type: str | None,
    *,
    url: str,
    max_bytes: int = MAX_MANIFEST_BYTES,
) -> Manifest:
    """Parse an index or manifest from a response body and its Content-Type."""
    header_type = (content_type or "").split(";")[0].strip().lower()
    if len(data) > max_bytes:
        _fail(url, f"the body is {len(data)} bytes, over the {max_bytes}-byte limit")
    document = _load_json(data, header_type, url)

    schema_version = document.get("schemaVersion")
    media_type = _media_type(document, header_type, url)
    if media_type in DOCKER_SCHEMA1_MANIFESTS or schema_version == 1:
        _fail(url, "Docker schema 1 manifests are not supported; push the image again")
    if schema_version != 2:
        _fail(url, f"schemaVersion is {schema_version!r}, expected 2")

    if media_type in INDEX_TYPES:
        entries = _field(document, "manifests", list, url)
        manifests = tuple(_descriptor(entry, url) for entry in entries)
        return ImageIndex(media_type, manifests)
    config = _descriptor(_field(document, "config", dict, url), url)
    layers = tuple(
        _descriptor(entry, url) for entry in _field(document, "layers", list, url)
    )
    return ImageManifest(media_type, config, layers)


def select_manifest(index: ImageIndex, platform: Platform, *, url: str) -> Descriptor:
    """Return the index entry that best fits `platform`, as containerd ranks them.

    Entries without a platform are taken only when no entry matches. Raises
    ManifestNotFoundError listing the platforms that the index offers.
    """
    preferences = platform_preferences(platform)
    candidates = [
        entry
        for entry in index.manifests
        if entry.media_type in MANIFEST_TYPES | INDEX_TYPES
    ]

    best: Descriptor | None = None
    best_rank = len(preferences)
    for entry in candidates:
        if entry.platform is None:
            continue
        offered = normalize_platform(entry.platform)
        if offered in preferences and preferences.index(offered) < best_rank:
            best, best_rank = entry, preferences.index(offered)
    if best is not None:
        return best

    unlabelled = [entry for entry in candidates if entry.platform is None]
    if unlabelled:
        return unlabelled[0]
    offered_names = sorted({str(entry.platform) for entry in candidates}) or ["none"]
    msg = (
        f"no manifest for platform {platform} in the index at {url}; "
        f"it offers: {', '.join(offered_names)}"
    )
    raise ManifestNotFoundError(msg, url=url, status=200)


def _load_json(data: bytes, header_type: str, url: str) -> dict[str, Any]:
    text = data.lstrip()
    if header_type == "text/html" or text[:1] == b"<":
        _fail(url, f"got HTML instead of JSON (Content-Type {header_type or 'none'})")
    if not text:
        _fail(url, "the body is empty")
    try:
        document = json.loads(data)
    except UnicodeDecodeError:
        _fail(url, "the body is not UTF-8 text")
    except json.JSONDecodeError as exc:
        # Python reports an unterminated string only when the input ends.
        ends_early = exc.msg.startswith("Unterminated string")
        if ends_early or exc.pos >= len(data.rstrip()):
            _fail(url, f"the JSON is truncated after {len(data)} bytes")
        _fail(url, f"invalid JSON at byte {exc.pos}: {exc.msg}")
    if not isinstance(document, dict):
        _fail(url, f"expected a JSON object, got {type(document).__name__}")
    return document


def _media_type(document: dict[str, Any], header_type: str, url: str) -> str:
    """Return the media type from the document, else the header, else the shape."""
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        _fail(url, f"mediaType is {declared!r}, expected a string")
    known = INDEX_TYPES | MANIFEST_TYPES | DOCKER_SCHEMA1_MANIFESTS
    header_known = header_type in known

    if declared and header_known and declared != header_type:
        _fail(url, f"Content-Type {header_type} differs from mediaType {declared}")
    media_type = declared or (header_type if header_known else "")
    if not media_type and header_type and header_type not in _JSON_TYPES:
        media_type = header_type
    if not media_type:
        media_type = OCI_INDEX if "manifests" in document else OCI_MANIFEST
    if media_type not in known:
        expected = ", ".join(
            [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST]
        )
        _fail(url, f"unsupported media type {media_type!r}; expected one of {expected}")
    return media_type


def _descriptor(entry: Any, url: str) -> Descriptor:
    if not isinstance(entry, dict):
        _fail(url, f"a descriptor is {type(entry).__name__}, expected a JSON object")
    media_type = _field(entry, "mediaType", str, url)
    digest = _field(entry, "digest", str, url)
    problem = digest_problem(digest)
    if problem is not None:
        _fail(url, f"descriptor digest {digest[:80]!r} is invalid: {problem}")
    size = entry.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        _fail(url, f"descriptor {digest} has size {size!r}, expected an integer >= 0")
    return Descriptor(media_type, digest, size, _platform(entry.get("platform"), url))


def _platform(value: Any, url: str) -> Platform | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        _fail(url, f"a platform is {type(value).__name__}, expected a JSON object")
    os = _field(value, "os", str, url)
    architecture = _field(value, "architecture", str, url)
    variant = value.get("variant") or ""
    if not isinstance(variant, str):
        _fail(url, f"platform variant is {variant!r}, expected a string")
    return Platform(os, architecture, variant)


def _field(document: dict[str, Any], key: str, kind: type[_T], url: str) -> _T:
    value = document.get(key)
    if not isinstance(value, kind):
        _fail(url, f"field {key!r} is {value!r:.60}, expected a {kind.__name__}")
    return value


def _fail(url: str, reason: str) -> NoReturn:
    raise RegistryError(f"invalid manifest from {url}: {reason}", url=url)
