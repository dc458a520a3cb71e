"""The Hypothesis profile that every property test of the suite runs under."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def test_profile_has_no_deadline() -> None:
    assert settings.default.deadline is None


def test_profile_allows_slow_generation() -> None:
    assert HealthCheck.too_slow in settings.default.suppress_health_check


def test_profile_keeps_example_count() -> None:
    assert settings.default.max_examples == settings.get_profile("default").max_examples
