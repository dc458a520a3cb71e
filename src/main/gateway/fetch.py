"""Run one flight: request the upstream, spool the body, verify it, record tags."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import anyio
import httpx

from main.errors import RegistryError
from main.gateway.flights import ErrorAnswer, Flight, FlightKey, FlightTable
from main.gateway.known_tags import KnownTagStore
from main.gateway.metrics import GatewayMetrics
from main.gateway.spool import SpoolError
from main.gateway.upstream import UpstreamClient
from main.reference import digest_problem

__all__ = [
    "FORWARDED_HEADERS",
    "BodyCheck",
    "FlightRunner",
    "error_body",
]

logger = logging.getLogger(__name__)

# Upstream response headers passed on to the gateway's clients. Auth
# challenges stay out: clients of the gateway never authenticate.
FORWARDED_HEADERS = (
    "content-type",
    "content-length",
    "docker-content-digest",
    "etag",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
)
_MAX_ERROR_BODY = 64 * 1024
# Real manifests and indexes stay far below this limit, since Docker Hub's
# largest official indexes are tens of KiB (an estimate). A bigger one attacks
# the memory of distribution, which parses manifests whole.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


def error_body(code: str, message: str, detail: object = None) -> bytes:
    """Encode a registry error response body (OCI distribution spec format)."""
    error: dict[str, object] = {"code": code, "message": message}
    if detail is not None:
        error["detail"] = detail
    return json.dumps({"errors": [error]}).encode()


class BodyCheck:
    """Incremental digest and size check of one body."""

    def __init__(self, digest: str | None, size: int | None) -> None:
        self.expected_digest = digest
        self.expected_size = size
        algorithm = digest.partition(":")[0] if digest is not None else "sha256"
        self._hash = hashlib.new(algorithm)
        self._algorithm = algorithm
        self.size = 0

    def update(self, data: bytes) -> None:
        """Feed the next chunk."""
        self._hash.update(data)
        self.size += len(data)

    @property
    def digest(self) -> str:
        """Digest of the bytes fed so far."""
        return f"{self._algorithm}:{self._hash.hexdigest()}"

    def problem(self) -> str | None:
        """Return how the body differs from what was expected, or None."""
        if self.expected_size is not None and self.size != self.expected_size:
            return (
                f"size {self.size} bytes differs from Content-Length "
                f"{self.expected_size}"
            )
        if self.expected_digest is not None and self.digest != self.expected_digest:
            return f"content has digest {self.digest}"
        return None


@dataclass
class FlightRunner:
    """Fills flights from the upstream and records what tag lookups answered."""

    upstream: UpstreamClient
    table: FlightTable
    known_tags: KnownTagStore
    metrics: GatewayMetrics

    async def run(self, flight: Flight, path: str, headers: Mapping[str, str]) -> None:
        """Run `flight` to its end and settle it in the table, whatever happens.

        Only cancellation propagates. Flights run in the gateway's task group,
        where any other exception would cancel every flight and stop the
        server, so an error fails this flight and its waiters alone.
        """
        try:
            await self._fetch(flight, path, headers)
        except RegistryError as exc:
            self._log_abort(flight, str(exc))
            self._end_with_error(flight, str(exc))
        except anyio.get_cancelled_exc_class():
            reason = "the gateway is shutting down"
            self._log_abort(flight, reason)
            self._end_with_error(flight, reason)
            raise
        except SpoolError as exc:
            logger.error("failed %s %s: %s", flight.key.method, path, exc)
            self._end_with_error(flight, str(exc), status=500)
        except Exception:
            logger.exception("failed %s %s: unexpected error", flight.key.method, path)
            reason = "unexpected error in the gateway; its log has the details"
            self._end_with_error(flight, reason, status=500)
        finally:
            self.table.settle(flight)
            self.metrics.spool_bytes.set(self.table.spool_bytes)

    async def _fetch(
        self, flight: Flight, path: str, headers: Mapping[str, str]
    ) -> None:
        key = flight.key
        async with self.upstream.open(key.kind, key.method, path, headers) as response:
            if not 200 <= response.status_code < 300:
                await self._fail_with_upstream_error(flight, response)
                return
            forwarded = _forwarded_headers(response.headers)
            expected_size = _content_length(response.headers)
            if key.method == "HEAD":
                flight.start_body(response.status_code, forwarded, None)
                flight.complete()
                await self._record_tag(key, forwarded, expected_size)
                return
            if key.kind == "manifest" and (expected_size or 0) > MAX_MANIFEST_BYTES:
                self._reject_large_manifest(flight, expected_size or 0)
                return
            flight.start_body(response.status_code, forwarded, expected_size)
            check = BodyCheck(_expected_digest(key, forwarded), expected_size)
            async for chunk in self.upstream.iter_body(response):
                check.update(chunk)
                if key.kind == "manifest" and check.size > MAX_MANIFEST_BYTES:
                    self._log_abort(flight, "manifest over the size limit")
                    flight.abort(
                        f"manifest {key.reference} is larger than "
                        f"{MAX_MANIFEST_BYTES} bytes"
                    )
                    return
                await flight.append(chunk)
        problem = check.problem()
        if problem is not None:
            self.metrics.digest_mismatches.inc()
            logger.error(
                "rejected upstream %s %s of %s: %s",
                key.kind,
                key.reference,
                key.repository,
                problem,
            )
            flight.abort(f"{key.kind} {key.reference}: {problem}")
            return
        flight.complete()
        await self._record_tag(key, forwarded, check.size, check.digest)

    def _reject_large_manifest(self, flight: Flight, size: int) -> None:
        key = flight.key
        message = (
            f"upstream manifest {key.reference} of {key.repository} has "
            f"{size} bytes, over the gateway's limit of {MAX_MANIFEST_BYTES}"
        )
        logger.error("rejected %s", message)
        body = error_body("MANIFEST_INVALID", message)
        flight.fail(ErrorAnswer(502, body, {"content-type": "application/json"}))

    async def _fail_with_upstream_error(
        self, flight: Flight, response: httpx.Response
    ) -> None:
        body = b""
        async for chunk in self.upstream.iter_body(response):
            body += chunk
            if len(body) > _MAX_ERROR_BODY:
                body = body[:_MAX_ERROR_BODY]
                break
        headers = _forwarded_headers(response.headers)
        headers.pop("content-length", None)
        headers.pop("docker-content-digest", None)
        flight.fail(ErrorAnswer(response.status_code, body, headers))
        key = flight.key
        if response.status_code == 404 and _is_tag_lookup(key):
            await self.known_tags.forget(key.repository, key.reference)

    async def _record_tag(
        self,
        key: FlightKey,
        headers: Mapping[str, str],
        size: int | None,
        body_digest: str | None = None,
    ) -> None:
        if not _is_tag_lookup(key):
            return
        digest = headers.get("docker-content-digest") or body_digest
        media_type = headers.get("content-type")
        if digest is None or digest_problem(digest) or not media_type or size is None:
            return
        await self.known_tags.record(
            key.repository, key.reference, digest, media_type, size
        )

    def _log_abort(self, flight: Flight, reason: str) -> None:
        if flight.status and not flight.done:
            logger.warning(
                "aborted %s %s: %s", flight.key.kind, flight.key.reference, reason
            )

    def _end_with_error(self, flight: Flight, reason: str, status: int = 503) -> None:
        """Fail `flight` with `status`, or abort its body if headers went out."""
        if flight.done:
            return
        if flight.status:
            flight.abort(reason)
            return
        code = "UNAVAILABLE" if status == 503 else "UNKNOWN"
        body = error_body(code, reason)
        flight.fail(ErrorAnswer(status, body, {"content-type": "application/json"}))


def _is_tag_lookup(key: FlightKey) -> bool:
    return key.kind == "manifest" and digest_problem(key.reference) is not None


def _expected_digest(key: FlightKey, headers: Mapping[str, str]) -> str | None:
    if digest_problem(key.reference) is None:
        return key.reference
    header = headers.get("docker-content-digest")
    if header is not None and digest_problem(header) is None:
        return header
    return None


def _forwarded_headers(headers: httpx.Headers) -> dict[str, str]:
    return {name: headers[name] for name in FORWARDED_HEADERS if name in headers}


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length", "")
    return int(value) if value.isdigit() else None
