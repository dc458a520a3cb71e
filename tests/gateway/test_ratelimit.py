"""Parsing of rate-limit headers."""

from __future__ import annotations

import httpx
import pytest

from main.gateway.ratelimit import Quota, parse_quota, parse_reset_time

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600"},
            Quota(100, 76, 21600),
            id="docker-hub",
        ),
        pytest.param({"ratelimit-remaining": "5"}, Quota(None, 5, None), id="bare"),
        pytest.param({}, None, id="absent"),
        pytest.param({"ratelimit-limit": "many"}, None, id="not-a-number"),
    ],
)
def test_parse_quota(headers: dict[str, str], expected: Quota | None) -> None:
    assert parse_quota(httpx.Headers(headers)) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"retry-after": "120"}, NOW + 120, id="retry-after-seconds"),
        pytest.param(
            {"retry-after": "Tue, 14 Nov 2023 22:14:20 GMT"},
            1_700_000_060.0,
            id="retry-after-date",
        ),
        pytest.param({"ratelimit-reset": "30"}, NOW + 30, id="ratelimit-reset-delta"),
        pytest.param(
            {"ratelimit-reset": "1700000300"},
            1_700_000_300.0,
            id="ratelimit-reset-unix",
        ),
        pytest.param({"x-ratelimit-reset": "1700000400"}, 1_700_000_400.0, id="github"),
        pytest.param({"retry-after": "soon"}, None, id="invalid"),
        pytest.param({"retry-after": "-5"}, None, id="negative"),
        pytest.param({"ratelimit-reset": "inf"}, None, id="infinite"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_parse_reset_time(headers: dict[str, str], expected: float | None) -> None:
    assert parse_reset_time(httpx.Headers(headers), NOW) == expected
