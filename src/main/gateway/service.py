"""The gateway's request logic: merge, fall back to known tags, refuse fast.

`Gateway` owns the upstream client, the flight table, the known-tags store,
the health state and the metrics, and runs flights in its own task group, so
a flight goes on when the client that started it disconnects.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import anyio.to_thread
import httpx
from starlette.responses import Response

from main.errors import RegistryError
from main.gateway.answers import (
    API_VERSION_HEADER,
    error_response,
    flight_response,
    known_tag_response,
    refusal_response,
)
from main.gateway.config import GatewayConfig
from main.gateway.fetch import FlightRunner
from main.gateway.flights import Flight, FlightKey, FlightState, FlightTable
from main.gateway.health import Refusal, UpstreamHealth
from main.gateway.known_tags import KnownTag, KnownTagStore
from main.gateway.metrics import GatewayMetrics
from main.gateway.upstream import UpstreamClient
from main.reference import digest_problem

__all__ = ["Gateway"]

logger = logging.getLogger(__name__)

_MAX_TAG_LIST = 4 * 1024 * 1024


class Gateway:
    """One upstream gateway; create it with `Gateway.open`."""

    def __init__(
        self,
        config: GatewayConfig,
        task_group: anyio.abc.TaskGroup,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.metrics = GatewayMetrics()
        self.health = UpstreamHealth(
            backoff_initial=config.backoff_initial,
            backoff_max=config.backoff_max,
            rate_limit_backoff=config.rate_limit_backoff,
        )
        self.known_tags = KnownTagStore(
            config.state_dir, max_entries=config.known_tags_max
        )
        self.upstream = UpstreamClient(config, self.health, self.metrics, transport)
        self.table = FlightTable(
            config.spool_dir,
            max_age_for=self._max_age,
            content_max_age=config.recent_seconds,
            max_bytes=config.recent_max_bytes,
        )
        self._runner = FlightRunner(
            self.upstream, self.table, self.known_tags, self.metrics
        )
        self._task_group = task_group

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        config: GatewayConfig,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncIterator[Gateway]:
        """Create a gateway, load its known tags, and close everything on exit."""
        async with anyio.create_task_group() as task_group:
            gateway = cls(config, task_group, transport)
            await anyio.to_thread.run_sync(gateway.known_tags.load)
            try:
                yield gateway
            finally:
                task_group.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    await gateway.upstream.aclose()
        gateway.table.close()

    async def manifest(
        self, method: str, repository: str, reference: str, accept: str
    ) -> Response:
        """Respond to a manifest HEAD or GET by tag or digest."""
        key = FlightKey(method, "manifest", repository, reference, accept)
        path = f"/v2/{repository}/manifests/{reference}"
        headers = {"Accept": accept} if accept else {}
        if digest_problem(reference) is not None:
            return await self._tag_lookup(key, path, headers)
        started = self._join_or_start(key, path, headers, spends_quota=method == "GET")
        if isinstance(started, Refusal):
            self._count(key, "refused")
            return refusal_response(started)
        flight = started
        await flight.wait_headers()
        self._count(key, "error" if flight.state is FlightState.FAILED else "ok")
        return flight_response(flight, method)

    async def blob(self, method: str, repository: str, digest: str) -> Response:
        """Respond to a blob HEAD or GET. With prefetch on, a HEAD starts the GET.

        Distribution 2.8 in proxy mode downloads a blob it lacks even for a
        client's HEAD, so starting the GET at the first HEAD saves a round trip
        and never fetches anything distribution would not fetch.
        """
        upstream_method = "GET" if self.config.prefetch_blob_on_head else method
        key = FlightKey(upstream_method, "blob", repository, digest)
        path = f"/v2/{repository}/blobs/{digest}"
        started = self._join_or_start(key, path, {}, spends_quota=False)
        if isinstance(started, Refusal):
            self._count(key, "refused", method)
            return refusal_response(started)
        await started.wait_headers()
        failed = started.state is FlightState.FAILED
        self._count(key, "error" if failed else "ok", method)
        return flight_response(started, method)

    async def tag_list(self, repository: str, query: str) -> Response:
        """Pass a tag list request through, without merging."""
        refusal = self.health.refusal(spends_quota=False)
        if refusal is not None:
            return refusal_response(refusal)
        path = f"/v2/{repository}/tags/list" + (f"?{query}" if query else "")
        try:
            async with self.upstream.open("tags", "GET", path, {}) as response:
                body = b""
                async for chunk in self.upstream.iter_body(response):
                    body += chunk
                    if len(body) > _MAX_TAG_LIST:
                        msg = f"tag list of {repository} exceeds {_MAX_TAG_LIST} bytes"
                        return error_response(502, "UNAVAILABLE", msg)
                status = response.status_code
                content_type = response.headers.get("content-type", "application/json")
        except RegistryError as exc:
            return error_response(503, "UNAVAILABLE", str(exc))
        headers = {"Content-Type": content_type, **API_VERSION_HEADER}
        return Response(body, status, headers)

    async def _tag_lookup(
        self, key: FlightKey, path: str, headers: dict[str, str]
    ) -> Response:
        known = self._usable_known_tag(key)
        spends_quota = key.method == "GET"
        started = self._join_or_start(key, path, headers, spends_quota=spends_quota)
        if isinstance(started, Refusal):
            if known is not None:
                return self._answer_known(key, known, _reason(started.status))
            self._count(key, "refused")
            return refusal_response(started)
        flight = started
        if known is None:
            await flight.wait_headers()
        else:
            with anyio.move_on_after(self.config.tag_deadline):
                await flight.wait_headers()
            fallback = _fallback_reason(flight)
            if fallback is not None:
                return self._answer_known(key, known, fallback)
        self._count(key, "error" if flight.state is FlightState.FAILED else "ok")
        return flight_response(flight, key.method)

    def _usable_known_tag(self, key: FlightKey) -> KnownTag | None:
        # Only a HEAD gets a known-tag response, because the store keeps
        # descriptors and no manifest bodies.
        if key.method != "HEAD":
            return None
        known = self.known_tags.get(key.repository, key.reference)
        if known is None or not _accepts(key.accept, known.media_type):
            return None
        return known

    def _answer_known(self, key: FlightKey, known: KnownTag, reason: str) -> Response:
        self.metrics.known_tag_answers.labels(reason).inc()
        self._count(key, "known_tag")
        logger.info(
            "resolved %s:%s from known tags (upstream %s)",
            key.repository,
            key.reference,
            reason,
        )
        return known_tag_response(known, reason)

    def _join_or_start(
        self,
        key: FlightKey,
        path: str,
        headers: dict[str, str],
        *,
        spends_quota: bool,
    ) -> Flight | Refusal:
        found = self.table.find(key)
        by_digest = digest_problem(key.reference) is None
        if (
            found is None
            and key.kind == "manifest"
            and key.method == "GET"
            and by_digest
        ):
            found = self.table.find_by_content_digest(
                key.kind, key.repository, key.reference
            )
        if found is not None:
            flight, source = found
            self.metrics.merged_requests.labels(key.kind, source).inc()
            return flight
        refusal = self.health.refusal(spends_quota=spends_quota)
        if refusal is not None:
            return refusal
        flight = self.table.start(key)
        self._task_group.start_soon(self._runner.run, flight, path, headers)
        return flight

    def _count(self, key: FlightKey, outcome: str, method: str | None = None) -> None:
        self.metrics.requests.labels(key.kind, method or key.method, outcome).inc()

    def _max_age(self, key: FlightKey) -> float:
        if digest_problem(key.reference) is None:
            return self.config.recent_seconds
        return self.config.tag_recent_seconds


def _fallback_reason(flight: Flight) -> str | None:
    """Return why a tag lookup should use the known tag, or None to pass it on."""
    if flight.state is FlightState.PENDING:
        return "timed out"
    if flight.error is None:
        return None
    if flight.error.status == 429 or flight.error.status >= 500:
        return _reason(flight.error.status)
    return None


def _reason(status: int) -> str:
    return "rate limited" if status == 429 else "unavailable"


def _accepts(accept: str, media_type: str) -> bool:
    if not accept:
        return True
    accepted = {entry.split(";")[0].strip() for entry in accept.split(",")}
    return bool(accepted & {media_type, "*/*", "application/*"})
