"""Tests for the WAN link pacing, with a fake clock."""

from __future__ import annotations

import pytest

from main.stack.wan import SharedLink, WanProfile


class FakeClock:
    """A monotonic clock that tests move forward by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_profile_converts_mbit_to_bytes() -> None:
    assert WanProfile(bandwidth_mbit=100).bytes_per_second == 12_500_000


def test_profile_rejects_negative_values() -> None:
    with pytest.raises(ValueError, match="use 0 or more"):
        WanProfile(rtt_ms=-1)


def test_link_delay_is_transmission_time() -> None:
    link = SharedLink(1_000_000, clock=FakeClock())

    delay = link.reserve(250_000)

    assert delay == pytest.approx(0.25)


def test_link_queues_concurrent_chunks() -> None:
    link = SharedLink(1_000_000, clock=FakeClock())

    first = link.reserve(500_000)
    second = link.reserve(500_000)

    assert first == pytest.approx(0.5)
    assert second == pytest.approx(1.0)


def test_idle_link_does_not_bank_bandwidth() -> None:
    clock = FakeClock()
    link = SharedLink(1_000_000, clock=clock)
    link.reserve(100_000)

    clock.now = 10.0
    delay = link.reserve(100_000)

    assert delay == pytest.approx(0.1)


def test_unlimited_link_never_delays() -> None:
    link = SharedLink(0, clock=FakeClock())

    assert link.reserve(10**9) == 0.0
