"""The down and rate-limited states of the upstream."""

from __future__ import annotations

from main.gateway.health import UpstreamHealth


class FakeClock:
    """A clock that tests move by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make_health(clock: FakeClock) -> UpstreamHealth:
    return UpstreamHealth(
        backoff_initial=1.0, backoff_max=4.0, rate_limit_backoff=60.0, clock=clock
    )


def test_failures_double_backoff_up_to_max() -> None:
    clock = FakeClock()
    health = make_health(clock)
    waits = []

    for _ in range(4):
        health.record_failure("connection refused")
        refusal = health.refusal(spends_quota=False)
        assert refusal is not None
        assert refusal.retry_at is not None
        waits.append(refusal.retry_at - clock.now)

    assert waits == [1.0, 2.0, 4.0, 4.0]


def test_backoff_expiry_lets_requests_through() -> None:
    clock = FakeClock()
    health = make_health(clock)
    health.record_failure("timed out")

    clock.now += 1.5

    assert health.refusal(spends_quota=True) is None


def test_success_clears_down_state() -> None:
    clock = FakeClock()
    health = make_health(clock)
    health.record_failure("HTTP 503")

    health.record_success()

    assert health.refusal(spends_quota=False) is None
    assert not health.down


def test_down_refusal_names_reason() -> None:
    clock = FakeClock()
    health = make_health(clock)

    health.record_failure("connection refused")

    refusal = health.refusal(spends_quota=False)
    assert refusal is not None
    assert refusal.status == 503
    assert "connection refused" in refusal.message


def test_rate_limit_refuses_only_quota_spending() -> None:
    clock = FakeClock()
    health = make_health(clock)

    health.record_rate_limited(clock.now + 300)

    refusal = health.refusal(spends_quota=True)
    assert refusal is not None
    assert refusal.status == 429
    assert "resets at 2023-11-14T22:18:20Z" in refusal.message
    assert health.refusal(spends_quota=False) is None


def test_rate_limit_without_reset_uses_backoff() -> None:
    clock = FakeClock()
    health = make_health(clock)

    health.record_rate_limited(None)

    refusal = health.refusal(spends_quota=True)
    assert refusal is not None
    assert refusal.retry_at == clock.now + 60.0
    assert "sent no reset time" in refusal.message


def test_rate_limit_ends_at_reset_or_quota() -> None:
    clock = FakeClock()
    health = make_health(clock)
    health.record_rate_limited(clock.now + 10)
    clock.now += 11
    expired = health.refusal(spends_quota=True)
    health.record_rate_limited(clock.now + 10)

    health.record_quota_left()

    assert expired is None
    assert health.refusal(spends_quota=True) is None
