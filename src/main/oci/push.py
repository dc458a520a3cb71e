"""Push an OCI image layout to a registry.

The push follows the distribution API: for each blob a HEAD request skips
content the repository already has, otherwise a POST opens an upload and one
PUT streams the file with its digest (a monolithic upload). Manifests go next,
by digest, and the tagged manifest or index goes last, so a registry never
receives a manifest that refers to missing content.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

from main.errors import RegistryError, RegistryMirrorError, UsageError
from main.oci.http_errors import check_response, translate_transport_errors
from main.oci.media import INDEX_TYPES, MANIFEST_TYPES

__all__ = ["PushResult", "push_layout"]

logger = logging.getLogger(__name__)

_REF_NAME = "org.opencontainers.image.ref.name"
_CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class PushResult:
    """The outcome of a push: the tagged digest and the blobs sent or skipped."""

    digest: str
    uploaded_blobs: int
    skipped_blobs: int
    uploaded_bytes: int


@dataclass(frozen=True)
class _Content:
    media_type: str
    digest: str
    size: int
    path: Path


async def push_layout(
    client: httpx.AsyncClient,
    base_url: str,
    layout: str | os.PathLike[str],
    repository: str,
    tag: str,
    *,
    max_concurrent_uploads: int = 4,
) -> PushResult:
    """Push the image tagged `tag` in the OCI layout directory to `repository:tag`.

    `base_url` is the registry root, such as `http://127.0.0.1:5000`. The
    client's timeouts bound every request. Raises RegistryError with the URL
    and status when the registry rejects a request or cannot be reached, and
    UsageError when the layout lacks the tag or a blob.
    """
    layout_dir = Path(layout)
    top = _find_tagged(layout_dir, tag)
    manifests, blobs = _walk(layout_dir, top)
    pusher = _Pusher(client, base_url.rstrip("/"), repository)

    limiter = anyio.CapacityLimiter(max_concurrent_uploads)
    try:
        async with anyio.create_task_group() as group:
            for blob in blobs:
                group.start_soon(pusher.push_blob, blob, limiter)
    except ExceptionGroup as errors:
        # Concurrent uploads usually fail for one reason; report the first.
        raise _first_project_error(errors) from None

    # Children before parents: a registry checks that referenced content exists.
    for manifest in manifests:
        await pusher.put_manifest(manifest, manifest.digest)
    await pusher.put_manifest(top, tag)
    logger.info(
        "pushed %s:%s (%s): %d blobs uploaded, %d already present",
        repository,
        tag,
        top.digest,
        pusher.uploaded,
        pusher.skipped,
    )
    return PushResult(top.digest, pusher.uploaded, pusher.skipped, pusher.sent_bytes)


class _Pusher:
    """Send blobs and manifests of one repository, counting what was sent."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, repo: str) -> None:
        self._client = client
        self._base = base_url
        self._repository = repo
        self.uploaded = 0
        self.skipped = 0
        self.sent_bytes = 0

    async def push_blob(self, blob: _Content, limiter: anyio.CapacityLimiter) -> None:
        async with limiter:
            url = f"{self._base}/v2/{self._repository}/blobs/{blob.digest}"
            subject = f"blob {blob.digest} of {self._repository}"
            found = await self._send("HEAD", url, subject=subject, expected=(200, 404))
            if found.status_code == 200:
                self.skipped += 1
                return

            start_url = f"{self._base}/v2/{self._repository}/blobs/uploads/"
            started = await self._send(
                "POST", start_url, subject=subject, expected=(202,)
            )
            location = started.headers.get("location")
            if not location:
                msg = f"upload start at {start_url} returned no Location header"
                raise RegistryError(msg, url=start_url, status=started.status_code)
            upload = httpx.URL(self._base).join(location)
            await self._send(
                "PUT",
                upload.copy_merge_params({"digest": blob.digest}),
                subject=subject,
                expected=(201,),
                content=_read_chunks(blob.path),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(blob.size),
                },
            )
            self.uploaded += 1
            self.sent_bytes += blob.size

    async def put_manifest(self, manifest: _Content, reference: str) -> None:
        url = f"{self._base}/v2/{self._repository}/manifests/{reference}"
        body = await anyio.Path(manifest.path).read_bytes()
        response = await self._send(
            "PUT",
            url,
            subject=f"manifest {reference} of {self._repository}",
            expected=(201,),
            content=body,
            headers={"Content-Type": manifest.media_type},
        )
        stored = response.headers.get("docker-content-digest", manifest.digest)
        if stored != manifest.digest:
            msg = (
                f"registry stored the manifest at {url} as {stored}, expected "
                f"{manifest.digest}"
            )
            raise RegistryError(msg, url=url, status=response.status_code)

    async def _send(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        subject: str,
        expected: tuple[int, ...],
        content: bytes | AsyncIterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        with translate_transport_errors(str(url)):
            response = await self._client.request(
                method, url, content=content, headers=headers
            )
        if response.status_code in expected:
            return response

        await check_response(response, subject)
        # check_response passes other 2xx statuses, which a push does not expect.
        accepted = " or ".join(str(status) for status in expected)
        msg = (
            f"{method} {url} for {subject} returned {response.status_code}, "
            f"expected {accepted}"
        )
        raise RegistryError(msg, url=str(url), status=response.status_code)


def _first_project_error(errors: ExceptionGroup[Exception]) -> Exception:
    """Return the first RegistryMirrorError in the group, else the group."""
    for error in errors.exceptions:
        if isinstance(error, ExceptionGroup):
            error = _first_project_error(error)
        if isinstance(error, RegistryMirrorError):
            return error
    return errors


async def _read_chunks(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as file:
        while chunk := await file.read(_CHUNK_SIZE):
            yield chunk


def _find_tagged(layout_dir: Path, tag: str) -> _Content:
    """Return the top descriptor for `tag`, or the only one in `index.json`."""
    entries = json.loads((layout_dir / "index.json").read_bytes())["manifests"]
    for entry in entries:
        if entry.get("annotations", {}).get(_REF_NAME) == tag:
            return _content(layout_dir, entry)
    if len(entries) == 1:
        return _content(layout_dir, entries[0])
    msg = f"no image tagged {tag!r} in {layout_dir}/index.json; pass a tag it lists"
    raise UsageError(msg)


def _walk(layout_dir: Path, top: _Content) -> tuple[list[_Content], list[_Content]]:
    """Return the manifests below `top` and every config and layer, each once."""
    manifests: list[_Content] = []
    blobs: dict[str, _Content] = {}
    pending = [top]
    while pending:
        current = pending.pop()
        document = json.loads(current.path.read_bytes())
        if current.media_type in INDEX_TYPES:
            children = [_content(layout_dir, d) for d in document["manifests"]]
            manifests.extend(children)
            pending.extend(children)
        elif current.media_type in MANIFEST_TYPES:
            for descriptor in (document["config"], *document["layers"]):
                blob = _content(layout_dir, descriptor)
                blobs.setdefault(blob.digest, blob)
        else:
            msg = (
                f"unsupported media type {current.media_type} in {layout_dir}; "
                "only OCI and Docker v2 manifests and indexes can be pushed"
            )
            raise UsageError(msg)
    # Manifests found deeper in a nested index must be pushed first.
    return manifests[::-1], list(blobs.values())


def _content(layout_dir: Path, descriptor: Mapping[str, Any]) -> _Content:
    algorithm, _, encoded = descriptor["digest"].partition(":")
    path = layout_dir / "blobs" / algorithm / encoded
    size = int(descriptor["size"])
    actual = path.stat().st_size if path.is_file() else None
    if actual != size:
        found = "is missing" if actual is None else f"has {actual} bytes"
        msg = (
            f"blob {path} {found} but its descriptor says {size} bytes; the "
            "layout is incomplete, delete it so that it is built again"
        )
        raise UsageError(msg)
    return _Content(descriptor["mediaType"], descriptor["digest"], size, path)
