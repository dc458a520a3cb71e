"""Flights: shared bodies, the held-back last byte, aborts and eviction."""

from __future__ import annotations

import anyio
import pytest

from main.gateway.flights import (
    Flight,
    FlightAbortedError,
    FlightKey,
    FlightState,
    FlightTable,
)

pytestmark = pytest.mark.anyio

KEY = FlightKey("GET", "blob", "library/debian", "sha256:" + "a" * 64)


async def read_all(flight: Flight) -> bytes:
    return b"".join([chunk async for chunk in flight.iter_body()])


async def test_readers_share_one_body() -> None:
    flight = Flight(KEY, None)
    flight.start_body(200, {"content-length": "6"}, 6)
    bodies: list[bytes] = []

    async def reader() -> None:
        bodies.append(await read_all(flight))

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(reader)
        task_group.start_soon(reader)
        await flight.append(b"abc")
        await flight.append(b"def")
        flight.complete()
    flight.discard()

    assert bodies == [b"abcdef", b"abcdef"]


async def test_last_byte_waits_for_completion() -> None:
    flight = Flight(KEY, None)
    flight.start_body(200, {}, 3)
    received: list[bytes] = []

    async def reader() -> None:
        async for chunk in flight.iter_body():
            received.append(chunk)

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(reader)
        await flight.append(b"xyz")
        await anyio.wait_all_tasks_blocked()
        before_completion = b"".join(received)
        flight.complete()
    flight.discard()

    assert before_completion == b"xy"
    assert b"".join(received) == b"xyz"


async def test_abort_fails_every_reader() -> None:
    flight = Flight(KEY, None)
    flight.start_body(200, {}, 4)
    failures: list[str] = []

    async def reader() -> None:
        try:
            await read_all(flight)
        except FlightAbortedError as exc:
            failures.append(str(exc))

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(reader)
        task_group.start_soon(reader)
        await flight.append(b"abcd")
        flight.abort("digest mismatch")
    flight.discard()

    assert failures == ["digest mismatch", "digest mismatch"]


class FakeClock:
    """A monotonic clock that tests move by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def finished_flight(table: FlightTable, key: FlightKey, body: bytes) -> Flight:
    flight = table.start(key)
    flight.start_body(200, {"docker-content-digest": key.reference}, len(body))
    await flight.append(body)
    flight.complete()
    table.settle(flight)
    return flight


async def test_recent_flight_expires() -> None:
    clock = FakeClock()
    table = FlightTable(
        None,
        max_age_for=lambda key: 10.0,
        content_max_age=10.0,
        max_bytes=1000,
        clock=clock,
    )
    await finished_flight(table, KEY, b"body")

    found_fresh = table.find(KEY)
    clock.now += 11
    found_stale = table.find(KEY)
    table.close()

    assert found_fresh is not None
    assert found_fresh[1] == "recent"
    assert found_stale is None


async def test_byte_limit_drops_oldest() -> None:
    table = FlightTable(
        None, max_age_for=lambda key: 10.0, content_max_age=10.0, max_bytes=10
    )
    other = FlightKey("GET", "blob", "library/debian", "sha256:" + "b" * 64)
    first = await finished_flight(table, KEY, b"123456")

    await finished_flight(table, other, b"abcdef")
    found_first = table.find(KEY)
    found_other = table.find(other)
    table.close()

    assert found_first is None
    assert found_other is not None
    assert first.state is FlightState.COMPLETE


async def test_tag_flight_found_by_content_digest() -> None:
    digest = "sha256:" + "c" * 64
    tag_key = FlightKey("GET", "manifest", "library/debian", "latest")
    table = FlightTable(
        None, max_age_for=lambda key: 0.0, content_max_age=10.0, max_bytes=1000
    )
    flight = table.start(tag_key)
    flight.start_body(200, {"docker-content-digest": digest}, 2)
    await flight.append(b"{}")
    flight.complete()
    table.settle(flight)

    by_tag = table.find(tag_key)
    by_digest = table.find_by_content_digest("manifest", "library/debian", digest)
    table.close()

    assert by_tag is None
    assert by_digest is not None
    assert by_digest[0] is flight
