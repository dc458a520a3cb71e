"""Async OCI pull client that resolves and downloads images as BuildKit does.

`RegistryClient.pull` resolves a tag with HEAD and then GETs the manifest by
the digest that HEAD returned. It picks the platform's manifest from an index
and downloads the config and layers concurrently. Each blob's digest and size
are verified while it streams into a sink. The client wraps one
`httpx.AsyncClient` that the caller owns, so tests and the benchmark choose
its transport, and any registry base URL (the upstream, a mirror or the Docker
Hub stand-in) can serve the same reference.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import NoReturn

import anyio
import httpx

from main.errors import RegistryError, RegistryMirrorError
from main.oci.digests import ContentVerifier, compute_digest
from main.oci.http_errors import (
    check_response,
    deadline_error,
    translate_transport_errors,
)
from main.oci.manifest import (
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageIndex,
    ImageManifest,
    Manifest,
    parse_manifest,
    select_manifest,
)
from main.oci.media import MANIFEST_ACCEPT
from main.oci.platform import DEFAULT_PLATFORM, Platform
from main.oci.sinks import BlobSink, DiscardSink
from main.reference import (
    ImageReference,
    blob_url,
    digest_problem,
    manifest_url,
    normalize_base_url,
)

__all__ = [
    "ClientOptions",
    "FetchedManifest",
    "PullResult",
    "RegistryClient",
    "new_http_client",
]

logger = logging.getLogger(__name__)

# An index may point at another index. Following at most this many levels
# bounds the requests that a broken or hostile registry can cause.
MAX_INDEX_DEPTH = 3


@dataclass(frozen=True)
class ClientOptions:
    """Timeouts, limits and retry settings of a RegistryClient."""

    connect_timeout: float = 10.0
    """Seconds to wait for a TCP connection."""
    read_timeout: float = 60.0
    """Seconds to wait for each chunk of a response."""
    manifest_deadline: float = 60.0
    """Seconds that one whole manifest response may take, against slow senders."""
    concurrency: int = 4
    """Blobs downloaded at the same time within one pull."""
    connect_retries: int = 2
    """Extra attempts after a failed connection; other failures are not retried."""
    retry_backoff: float = 0.2
    """Seconds before the first retry, doubled for each further retry."""
    max_redirects: int = 5
    """Redirects followed per request; registries redirect blobs to storage."""
    max_manifest_bytes: int = MAX_MANIFEST_BYTES
    """Largest manifest or index body accepted."""

    def timeout(self) -> httpx.Timeout:
        """Return the httpx timeout for one request."""
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)


def new_http_client(
    options: ClientOptions | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """Create the one httpx client of a run, with the options' timeouts.

    Proxy variables from the environment are ignored, because every registry
    this project talks to in tests and the embedded stack is on 127.0.0.1.
    """
    options = options or ClientOptions()
    return httpx.AsyncClient(
        transport=transport,
        timeout=options.timeout(),
        max_redirects=options.max_redirects,
        trust_env=False,
    )


@dataclass(frozen=True)
class FetchedManifest:
    """A manifest or index as downloaded, verified and parsed."""

    url: str
    digest: str
    data: bytes
    manifest: Manifest

    @property
    def descriptor(self) -> Descriptor:
        """Descriptor of these bytes, for storing them in a sink."""
        return Descriptor(self.manifest.media_type, self.digest, len(self.data))


@dataclass(frozen=True)
class PullResult:
    """Sizes, digests and timing of one pull."""

    reference: ImageReference
    platform: Platform
    index_digest: str | None
    """Digest of the index that the tag names, or None for a single manifest."""
    manifest_digest: str
    """Digest of the platform's image manifest."""
    manifest_bytes: int
    """Bytes of all manifests and indexes downloaded."""
    blob_sizes: Mapping[str, int] = field(default_factory=dict)
    """Bytes of each config and layer blob, by digest."""
    elapsed_seconds: float = 0.0
    """Wall time from the first request to the last verified byte."""
    retries: int = 0
    """Connection attempts that failed and were retried."""

    @property
    def blob_count(self) -> int:
        """Number of distinct config and layer blobs."""
        return len(self.blob_sizes)

    @property
    def blob_bytes(self) -> int:
        """Bytes of config and layer blobs."""
        return sum(self.blob_sizes.values())

    @property
    def total_bytes(self) -> int:
        """Bytes of manifests and blobs together."""
        return self.manifest_bytes + self.blob_bytes


class RegistryClient:
    """Pull images from one registry base URL through a shared httpx client.

    `retries` counts the connection retries of all requests so far.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        options: ClientOptions | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.retries = 0
        self._http = http
        self._auth = auth
        self._options = options or ClientOptions()

    async def resolve(self, reference: ImageReference) -> FetchedManifest:
        """Fetch the manifest or index that a reference names.

        A tag is resolved with HEAD first and then fetched by the digest that
        HEAD returned, or by tag when HEAD returned none. HEAD does not count
        as a pull on Docker Hub, and the digest makes the GET verifiable.
        """
        if reference.digest is not None:
            return await self.fetch_manifest(reference, reference.digest)

        url = manifest_url(self.base_url, reference)
        headers = {"Accept": MANIFEST_ACCEPT}
        try:
            async with self._open("HEAD", url, str(reference), headers) as response:
                digest = response.headers.get("docker-content-digest")
        except RegistryError as exc:
            if exc.status < 429:
                raise
            # A HEAD answer has no body, so it cannot say why it failed. Like
            # containerd's resolver, ask again with GET: its error body does.
            return await self.fetch_manifest(reference, reference.reference)
        if digest is not None and digest_problem(digest) is not None:
            msg = f"the registry at {url} returned an invalid digest {digest[:80]!r}"
            raise RegistryError(msg, url=url, status=response.status_code)
        return await self.fetch_manifest(reference, digest or reference.reference)

    async def fetch_manifest(
        self,
        reference: ImageReference,
        tag_or_digest: str,
        expected: Descriptor | None = None,
    ) -> FetchedManifest:
        """GET a manifest or index by tag or digest, verify and parse it.

        Content fetched by digest must hash to that digest, and content named
        by a descriptor must also have its size and media type.
        """
        url = manifest_url(self.base_url, reference, tag_or_digest)
        deadline = self._options.manifest_deadline
        try:
            with anyio.fail_after(deadline):
                data, content_type, header_digest = await self._get_manifest(
                    url, str(reference)
                )
        except TimeoutError as exc:
            raise deadline_error(url, deadline) from exc

        digest = _verify_manifest(data, url, tag_or_digest, expected, header_digest)
        manifest = parse_manifest(
            data, content_type, url=url, max_bytes=self._options.max_manifest_bytes
        )
        if expected is not None and manifest.media_type != expected.media_type:
            msg = (
                f"invalid manifest from {url}: media type {manifest.media_type} "
                f"differs from {expected.media_type} in the index"
            )
            raise RegistryError(msg, url=url, status=200)
        return FetchedManifest(url, digest, data, manifest)

    async def pull(
        self,
        reference: ImageReference,
        platform: Platform = DEFAULT_PLATFORM,
        sink: BlobSink | None = None,
    ) -> PullResult:
        """Pull one platform of an image into `sink` and verify every byte.

        The default sink discards the content after verification, which is
        what a benchmark needs. Raises RegistryError subclasses, never httpx
        errors.
        """
        sink = sink or DiscardSink()
        started = time.perf_counter()
        retries_before = self.retries

        chain = await self._resolve_platform(reference, platform)
        image = chain[-1].manifest
        if not isinstance(image, ImageManifest):
            msg = f"indexes at {chain[0].url} nest deeper than {MAX_INDEX_DEPTH} levels"
            raise RegistryError(msg, url=chain[0].url, status=200)
        blob_sizes = await self._fetch_blobs(reference, image.blobs, sink)
        for fetched in chain:
            await _store(sink, fetched.descriptor, fetched.data)

        result = PullResult(
            reference=reference,
            platform=platform,
            index_digest=chain[0].digest if len(chain) > 1 else None,
            manifest_digest=chain[-1].digest,
            manifest_bytes=sum(len(fetched.data) for fetched in chain),
            blob_sizes=blob_sizes,
            elapsed_seconds=time.perf_counter() - started,
            retries=self.retries - retries_before,
        )
        logger.info(
            "pulled %s (%s) from %s: %d blobs, %d bytes in %.2f s",
            reference,
            platform,
            self.base_url,
            result.blob_count,
            result.total_bytes,
            result.elapsed_seconds,
        )
        return result

    async def _resolve_platform(
        self, reference: ImageReference, platform: Platform
    ) -> list[FetchedManifest]:
        """Resolve the reference and follow indexes down to the platform's manifest."""
        chain = [await self.resolve(reference)]
        for _ in range(MAX_INDEX_DEPTH):
            current = chain[-1]
            if not isinstance(current.manifest, ImageIndex):
                break
            entry = select_manifest(current.manifest, platform, url=current.url)
            chain.append(await self.fetch_manifest(reference, entry.digest, entry))
        return chain

    async def _fetch_blobs(
        self,
        reference: ImageReference,
        blobs: tuple[Descriptor, ...],
        sink: BlobSink,
    ) -> dict[str, int]:
        """Download blobs concurrently, at most `concurrency` at a time."""
        sizes: dict[str, int] = {}
        limiter = anyio.CapacityLimiter(self._options.concurrency)
        try:
            async with anyio.create_task_group() as group:
                for descriptor in blobs:
                    group.start_soon(
                        self._fetch_blob, reference, descriptor, sink, limiter, sizes
                    )
        except ExceptionGroup as failures:
            # Report the first project error as itself, so callers can catch
            # DigestMismatchError or RegistryError without unpacking the group.
            first = _first_leaf(failures)
            if isinstance(first, RegistryMirrorError):
                raise first from first.__cause__
            raise
        return {descriptor.digest: sizes[descriptor.digest] for descriptor in blobs}

    async def _fetch_blob(
        self,
        reference: ImageReference,
        descriptor: Descriptor,
        sink: BlobSink,
        limiter: anyio.CapacityLimiter,
        sizes: dict[str, int],
    ) -> None:
        async with limiter:
            url = blob_url(self.base_url, reference, descriptor.digest)
            subject = f"blob {descriptor.digest} of {reference}"
            verifier = ContentVerifier(descriptor.digest, descriptor.size, url=url)
            async with self._open("GET", url, subject) as response:
                writer = await sink.open_blob(descriptor)
                try:
                    async for chunk in response.aiter_bytes():
                        verifier.update(chunk)
                        await writer.write(chunk)
                    verifier.verify()
                    await writer.commit()
                except BaseException:
                    with anyio.CancelScope(shield=True):
                        await writer.abort()
                    raise
        sizes[descriptor.digest] = verifier.received
        logger.debug("fetched %s (%d bytes)", subject, verifier.received)

    async def _get_manifest(self, url: str, subject: str) -> tuple[bytes, str, str]:
        """GET a manifest body, rejecting it as soon as it passes the size cap."""
        limit = self._options.max_manifest_bytes
        headers = {"Accept": MANIFEST_ACCEPT}
        async with self._open("GET", url, subject, headers) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                _raise_too_large(url, f"Content-Length {declared} exceeds", limit)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    _raise_too_large(url, "the body exceeds", limit)
            content_type = response.headers.get("content-type", "")
            header_digest = response.headers.get("docker-content-digest", "")
        return bytes(body), content_type, header_digest

    @asynccontextmanager
    async def _open(
        self,
        method: str,
        url: str,
        subject: str,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Send a request, check its status and yield the streaming response.

        httpx errors raised while the caller reads the body are translated
        here too.
        """
        response = await self._send(method, url, headers)
        try:
            with translate_transport_errors(url):
                await check_response(response, subject)
                yield response
        finally:
            await response.aclose()

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str] | None
    ) -> httpx.Response:
        """Send with redirects and auth, retrying failed connections only.

        Only a failed connection is retried, because then no request reached
        the registry and a retry cannot count as a second pull.
        """
        options = self._options
        auth = self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT
        attempt = 0
        with translate_transport_errors(url):
            while True:
                request = self._http.build_request(
                    method, url, headers=headers, timeout=options.timeout()
                )
                try:
                    return await self._http.send(
                        request, auth=auth, follow_redirects=True, stream=True
                    )
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    if attempt >= options.connect_retries:
                        raise
                    attempt += 1
                    self.retries += 1
                    # INFO, not WARNING: a retry that succeeds needs no
                    # attention, and one that fails ends in an error anyway.
                    logger.info(
                        "connecting for %s %s failed (%s); retry %d of %d",
                        method,
                        url,
                        exc,
                        attempt,
                        options.connect_retries,
                    )
                    await anyio.sleep(options.retry_backoff * 2 ** (attempt - 1))


def _verify_manifest(
    data: bytes,
    url: str,
    tag_or_digest: str,
    expected: Descriptor | None,
    header_digest: str,
) -> str:
    """Check manifest bytes against what named them and return their digest."""
    if expected is not None:
        verifier = ContentVerifier(expected.digest, expected.size, url=url)
        verifier.update(data)
        verifier.verify()
        return expected.digest
    if digest_problem(tag_or_digest) is None:
        verifier = ContentVerifier(tag_or_digest, len(data), url=url)
        verifier.update(data)
        verifier.verify()
        return tag_or_digest

    # Fetched by tag: the registry's digest header, if sent, must match.
    if header_digest and digest_problem(header_digest) is None:
        verifier = ContentVerifier(header_digest, len(data), url=url)
        verifier.update(data)
        verifier.verify()
        return header_digest
    return compute_digest(data)


def _raise_too_large(url: str, what_exceeds: str, limit: int) -> NoReturn:
    msg = f"invalid manifest from {url}: {what_exceeds} the {limit}-byte limit"
    raise RegistryError(msg, url=url, status=200)


async def _store(sink: BlobSink, descriptor: Descriptor, data: bytes) -> None:
    writer = await sink.open_blob(descriptor)
    await writer.write(data)
    await writer.commit()


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first
