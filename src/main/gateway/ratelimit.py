"""Read rate-limit headers of registry responses.

Docker Hub sends `ratelimit-limit: 100;w=21600` and
`ratelimit-remaining: 76;w=21600` (the count, then the window in seconds) on
manifest responses. When a limit is spent, registries may say when it resets
with `Retry-After` (seconds or an HTTP date, RFC 9110), `RateLimit-Reset`
(seconds from now, in the IETF RateLimit header draft) or `X-RateLimit-Reset`
(a Unix time, as GitHub's API sends it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

__all__ = ["Quota", "parse_quota", "parse_reset_time"]

# A `RateLimit-Reset` value above this many seconds is taken as a Unix time:
# no registry window is longer than a year, and Unix times are above 1e9.
_MAX_DELTA_SECONDS = 366 * 24 * 3600


@dataclass(frozen=True)
class Quota:
    """Pull quota from one response: limit and remaining count, window in seconds."""

    limit: int | None
    remaining: int | None
    window_seconds: int | None


def parse_quota(headers: Mapping[str, str]) -> Quota | None:
    """Return the quota in `headers`, or None when they carry no rate-limit header.

    `headers` must look names up case-insensitively, as httpx and Starlette
    headers do.
    """
    limit, limit_window = _count_and_window(headers.get("ratelimit-limit"))
    remaining, remaining_window = _count_and_window(headers.get("ratelimit-remaining"))
    if limit is None and remaining is None:
        return None
    return Quota(limit, remaining, limit_window or remaining_window)


def parse_reset_time(headers: Mapping[str, str], now: float) -> float | None:
    """Return the Unix time when a spent rate limit resets, or None if unknown.

    `now` is the current Unix time, which relative values are added to.
    """
    retry_after = headers.get("retry-after")
    if retry_after:
        reset = _parse_retry_after(retry_after.strip(), now)
        if reset is not None:
            return reset
    reset_value = _parse_number(headers.get("ratelimit-reset"))
    if reset_value is not None:
        if reset_value > _MAX_DELTA_SECONDS:
            return reset_value
        return now + reset_value
    return _parse_number(headers.get("x-ratelimit-reset"))


def _count_and_window(value: str | None) -> tuple[int | None, int | None]:
    if not value:
        return None, None
    count_text, _, parameters = value.partition(";")
    count = _parse_int(count_text)
    window = None
    for parameter in parameters.split(";"):
        name, _, parameter_value = parameter.strip().partition("=")
        if name.strip().lower() == "w":
            window = _parse_int(parameter_value)
    return count, window


def _parse_retry_after(value: str, now: float) -> float | None:
    seconds = _parse_number(value)
    if seconds is not None:
        return now + seconds
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def _parse_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _parse_number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    if value < 0 or not math.isfinite(value):
        return None
    return value
