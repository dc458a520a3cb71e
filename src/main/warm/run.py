"""Pre-pull images into the mirrors, so CI jobs that start at once find them warm.

Each image goes to the mirror of its own registry (a distribution instance
proxies exactly one upstream). A platform whose blobs the mirror already stores
costs the upstream nothing: the mirror serves it from its storage. Blobs that
an earlier image in the same run already warmed are not fetched again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import anyio
import httpx

from main.errors import RegistryMirrorError, UsageError
from main.oci.client import RegistryClient
from main.oci.manifest import ImageIndex
from main.oci.platform import Platform
from main.reference import ImageReference, normalize_base_url
from main.warm.discover import FoundImage

logger = logging.getLogger(__name__)


@dataclass
class WarmOutcome:
    """Outcome of warming one image: platforms pulled, bytes, or the error."""

    image: str
    mirror: str
    platforms: list[str] = field(default_factory=list)
    bytes: int = 0
    reused_blobs: int = 0
    blobs: list[str] = field(default_factory=list)
    error: str | None = None


def parse_mirror_map(entries: Sequence[str]) -> dict[str, str]:
    """Parse `registry=URL` entries such as `docker.io=http://127.0.0.1:5000`."""
    mirrors: dict[str, str] = {}
    for entry in entries:
        registry, separator, url = entry.partition("=")
        if not separator or not registry or not url:
            msg = (
                f"invalid --mirror '{entry}'; use REGISTRY=URL, "
                "for example docker.io=http://127.0.0.1:5000"
            )
            raise UsageError(msg)
        mirrors[registry.strip()] = normalize_base_url(url.strip())
    return mirrors


def mirror_for(reference: ImageReference, mirrors: Mapping[str, str]) -> str:
    """Return the mirror URL of the reference's registry, or raise UsageError."""
    try:
        return mirrors[reference.registry]
    except KeyError:
        known = ", ".join(sorted(mirrors)) or "none"
        msg = (
            f"no mirror for registry {reference.registry} (image {reference}); "
            f"known: {known}; add one with --mirror {reference.registry}=URL"
        )
        raise UsageError(msg) from None


async def _platforms_of(
    client: RegistryClient, reference: ImageReference, wanted: Sequence[Platform]
) -> list[Platform]:
    """Return the requested platforms, or every platform of the index if none."""
    if wanted:
        return list(wanted)
    top = await client.resolve(reference)
    if not isinstance(top.manifest, ImageIndex):
        return [Platform("linux", "amd64")]
    return [
        entry.platform
        for entry in top.manifest.manifests
        if entry.platform is not None and entry.platform.os != "unknown"
    ]


async def warm_image(
    http: httpx.AsyncClient,
    found: FoundImage,
    mirrors: Mapping[str, str],
    platforms: Sequence[Platform],
    seen_blobs: set[str],
) -> WarmOutcome:
    """Pull every wanted platform of one image through its mirror."""
    reference = found.reference
    mirror = mirror_for(reference, mirrors)
    outcome = WarmOutcome(str(reference), mirror)
    client = RegistryClient(http, mirror)
    try:
        for platform in await _platforms_of(client, reference, platforms):
            result = await client.pull(reference, platform)
            fresh = {d: n for d, n in result.blob_sizes.items() if d not in seen_blobs}
            outcome.reused_blobs += len(result.blob_sizes) - len(fresh)
            outcome.bytes += result.manifest_bytes + sum(fresh.values())
            seen_blobs.update(result.blob_sizes)
            outcome.blobs += list(result.blob_sizes)
            outcome.platforms.append(str(platform))
    except RegistryMirrorError as exc:
        outcome.error = str(exc)
        logger.warning("warming %s through %s failed: %s", reference, mirror, exc)
    return outcome


async def warm_images(
    http: httpx.AsyncClient,
    images: Sequence[FoundImage],
    mirrors: Mapping[str, str],
    platforms: Sequence[Platform] = (),
    concurrency: int = 4,
) -> list[WarmOutcome]:
    """Warm all images, `concurrency` at a time; results in the input order."""
    for found in images:
        mirror_for(found.reference, mirrors)
    outcomes: list[WarmOutcome | None] = [None] * len(images)
    seen_blobs: set[str] = set()
    limiter = anyio.CapacityLimiter(concurrency)

    async def warm_one(index: int) -> None:
        async with limiter:
            outcomes[index] = await warm_image(
                http, images[index], mirrors, platforms, seen_blobs
            )

    async with anyio.create_task_group() as group:
        for index in range(len(images)):
            group.start_soon(warm_one, index)
    return [outcome for outcome in outcomes if outcome is not None]
