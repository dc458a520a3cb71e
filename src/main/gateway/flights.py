"""Merge identical upstream requests into one flight that every waiter reads.

A flight is one upstream request and its response: status and headers as
soon as they arrive, then the body as it grows in a spool file. The first
request for a key starts the flight. Requests for the same key that arrive
while it runs, or shortly after it completed, read the same response, so the
upstream gets one request.

A waiter never receives the last byte of a body before the flight completed
and its digest was checked. When the check fails the flight is aborted and
every waiter's response must end without its last byte, so the receiver
sees a truncated body and stores nothing.
"""

from __future__ import annotations

import enum
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from main.gateway.spool import Spool

__all__ = [
    "ErrorAnswer",
    "Flight",
    "FlightAbortedError",
    "FlightKey",
    "FlightState",
    "FlightTable",
]

_READ_SIZE = 256 * 1024


@dataclass(frozen=True)
class FlightKey:
    """What makes two requests identical: method, kind, repository, reference, Accept.

    `method` is the upstream method, so a blob HEAD served from a GET
    flight uses the GET key.
    """

    method: str
    kind: str
    repository: str
    reference: str
    accept: str = ""


@dataclass(frozen=True)
class ErrorAnswer:
    """Error response sent to every waiter instead of content."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class FlightState(enum.Enum):
    """Progress of a flight."""

    PENDING = "pending"  # no response headers yet
    STREAMING = "streaming"  # headers known, body growing
    COMPLETE = "complete"  # body complete and verified
    FAILED = "failed"  # error response before headers, or aborted body


class FlightAbortedError(Exception):
    """Raised to a body reader when the flight failed after its headers."""


class Flight:
    """One upstream response shared by every request with the same key."""

    def __init__(self, key: FlightKey, spool_dir: Path | None) -> None:
        self.key = key
        self.state = FlightState.PENDING
        self.status = 0
        self.headers: dict[str, str] = {}
        self.expected_size: int | None = None
        self.error: ErrorAnswer | None = None
        self.abort_reason = ""
        self.finished_at = 0.0
        self._spool_dir = spool_dir
        self._spool: Spool | None = None
        self._changed = anyio.Event()

    @property
    def size(self) -> int:
        """Body bytes received so far."""
        return self._spool.size if self._spool is not None else 0

    @property
    def done(self) -> bool:
        """Whether the flight completed or failed."""
        return self.state in (FlightState.COMPLETE, FlightState.FAILED)

    def start_body(
        self, status: int, headers: Mapping[str, str], expected_size: int | None
    ) -> None:
        """Publish the response status and headers; the body follows.

        A GET's body goes to a new spool file, created before anything is
        published, so a `SpoolError` leaves the flight waiting for its headers
        and free to fail with an error response. A HEAD has no body and no spool.
        """
        if self.key.method != "HEAD":
            self._spool = Spool(self._spool_dir)
        self.status = status
        self.headers = dict(headers)
        self.expected_size = expected_size
        self.state = FlightState.STREAMING
        self._notify()

    async def append(self, data: bytes) -> None:
        """Add a chunk of the body and wake the readers."""
        assert self._spool is not None
        await self._spool.append(data)
        self._notify()

    def complete(self) -> None:
        """Mark the body complete and verified."""
        self.state = FlightState.COMPLETE
        self._notify()

    def fail(self, answer: ErrorAnswer) -> None:
        """End the flight before its headers with an error response for every waiter."""
        self.error = answer
        self._finish_failed()

    def abort(self, reason: str) -> None:
        """End the flight after its headers; readers raise `FlightAbortedError`."""
        self.abort_reason = reason
        self._finish_failed()

    async def wait_headers(self) -> None:
        """Wait until the headers arrived or the flight failed."""
        while self.state is FlightState.PENDING:
            await self._changed.wait()

    async def wait_done(self) -> None:
        """Wait until the flight completed or failed."""
        while not self.done:
            await self._changed.wait()

    async def iter_body(self) -> AsyncIterator[bytes]:
        """Yield the body from the spool as it grows.

        The last byte is held back until the flight completes. Raises
        `FlightAbortedError` when the flight is aborted.
        """
        spool = self._spool
        if spool is None:
            return
        spool.acquire()
        try:
            offset = 0
            while True:
                changed = self._changed
                if self.state is FlightState.FAILED:
                    raise FlightAbortedError(self.abort_reason)
                limit = self._readable_limit()
                if offset < limit:
                    length = min(_READ_SIZE, limit - offset)
                    data = await spool.read(offset, length)
                    offset += len(data)
                    yield data
                elif self.state is FlightState.COMPLETE:
                    return
                else:
                    await changed.wait()
        finally:
            spool.release()

    def discard(self) -> None:
        """Free the spool once its current readers are done."""
        if self._spool is not None:
            self._spool.discard()

    def _readable_limit(self) -> int:
        size = self.size
        if self.state is FlightState.COMPLETE:
            return size
        if self.expected_size is not None:
            return min(size, self.expected_size - 1)
        return size

    def _finish_failed(self) -> None:
        self.state = FlightState.FAILED
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()


class FlightTable:
    """Flights in progress and recently completed ones, bounded by age and bytes.

    `max_age_for` returns how long a completed flight may answer requests
    with its key. A completed GET may also answer requests by the digest of
    its body for `content_max_age`, because content with a digest never
    changes even when the tag that fetched it moves. Completed flights are
    dropped oldest first when their spools hold more than `max_bytes`;
    flights in progress are never dropped.
    """

    def __init__(
        self,
        spool_dir: Path | None,
        *,
        max_age_for: Callable[[FlightKey], float],
        content_max_age: float,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._spool_dir = spool_dir
        self._max_age_for = max_age_for
        self._content_max_age = content_max_age
        self._max_bytes = max_bytes
        self._clock = clock
        self._running: dict[FlightKey, Flight] = {}
        self._recent: OrderedDict[FlightKey, Flight] = OrderedDict()

    @property
    def spool_bytes(self) -> int:
        """Bytes in the spools of running and recent flights."""
        flights = [*self._running.values(), *self._recent.values()]
        return sum(flight.size for flight in flights)

    def find(self, key: FlightKey) -> tuple[Flight, str] | None:
        """Return a running or fresh recent flight and 'in_flight' or 'recent'."""
        self._expire()
        running = self._running.get(key)
        if running is not None:
            return running, "in_flight"
        recent = self._recent.get(key)
        if recent is not None and self._age(recent) <= self._max_age_for(key):
            return recent, "recent"
        return None

    def find_by_content_digest(
        self, kind: str, repository: str, digest: str
    ) -> tuple[Flight, str] | None:
        """Return a running or recent GET flight whose response has `digest`.

        A manifest fetched by tag carries its digest in `Docker-Content-Digest`,
        so a later GET of the same manifest by digest can read that flight.
        """
        self._expire()
        for flights, source in ((self._running, "in_flight"), (self._recent, "recent")):
            for flight in flights.values():
                key = flight.key
                if (
                    key.method == "GET"
                    and key.kind == kind
                    and key.repository == repository
                    and flight.state is not FlightState.FAILED
                    and flight.headers.get("docker-content-digest") == digest
                ):
                    return flight, source
        return None

    def start(self, key: FlightKey) -> Flight:
        """Register a new flight for `key`; the caller runs it and calls `settle`."""
        flight = Flight(key, self._spool_dir)
        self._running[key] = flight
        return flight

    def settle(self, flight: Flight) -> None:
        """Move a finished flight to the recent ones, or drop it if it failed."""
        if self._running.get(flight.key) is flight:
            del self._running[flight.key]
        flight.finished_at = self._clock()
        keep = flight.state is FlightState.COMPLETE and self._retention(flight.key) > 0
        if not keep:
            flight.discard()
            return
        previous = self._recent.pop(flight.key, None)
        if previous is not None:
            previous.discard()
        self._recent[flight.key] = flight
        self._expire()

    def close(self) -> None:
        """Drop every recent flight."""
        while self._recent:
            _, flight = self._recent.popitem(last=False)
            flight.discard()

    def _retention(self, key: FlightKey) -> float:
        content_age = self._content_max_age if key.method == "GET" else 0.0
        return max(self._max_age_for(key), content_age)

    def _age(self, flight: Flight) -> float:
        return self._clock() - flight.finished_at

    def _expire(self) -> None:
        for key, flight in list(self._recent.items()):
            if self._age(flight) > self._retention(key):
                del self._recent[key]
                flight.discard()
        total = sum(flight.size for flight in self._recent.values())
        while self._recent and total > self._max_bytes:
            _, oldest = self._recent.popitem(last=False)
            total -= oldest.size
            oldest.discard()
