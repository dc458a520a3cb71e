"""Track whether the upstream can be asked, so requests fail fast while it cannot.

After a connection error, a timeout or a 5xx answer the upstream counts as
down for a back-off that doubles with each further failure, up to a maximum;
the first success clears it. After a 429 answer, requests that spend pull
quota (manifest GETs) are refused until the reset time the upstream sent, or
for a fixed back-off when it sent none. Requests that spend no quota (HEAD,
blobs) still go upstream while rate-limited, and a response that shows quota
left clears the limit early.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["Refusal", "UpstreamHealth", "format_time"]


@dataclass(frozen=True)
class Refusal:
    """Why the gateway does not send a request upstream now.

    `status` and `code` are the HTTP status and registry error code of the
    answer; `retry_at` is the Unix time of the next attempt, when known.
    """

    status: int
    code: str
    message: str
    retry_at: float | None


class UpstreamHealth:
    """Down and rate-limited state of one upstream, driven by its answers."""

    def __init__(
        self,
        *,
        backoff_initial: float,
        backoff_max: float,
        rate_limit_backoff: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._rate_limit_backoff = rate_limit_backoff
        self._clock = clock
        self._failures = 0
        self._down_until: float | None = None
        self._down_reason = ""
        self._limited_until: float | None = None
        self._reset_known = False

    @property
    def down(self) -> bool:
        """Whether requests are refused now because the upstream failed."""
        return self._down_until is not None and self._clock() < self._down_until

    @property
    def rate_limited(self) -> bool:
        """Whether quota-spending requests are refused now."""
        return self._limited_until is not None and self._clock() < self._limited_until

    def record_success(self) -> None:
        """Clear the down state after an answer that is not a 5xx."""
        self._failures = 0
        self._down_until = None
        self._down_reason = ""

    def record_failure(self, reason: str) -> None:
        """Mark the upstream down for the next back-off after `reason`."""
        self._failures += 1
        exponent = min(self._failures - 1, 32)
        backoff = min(self._backoff_initial * 2**exponent, self._backoff_max)
        self._down_until = self._clock() + backoff
        self._down_reason = reason

    def record_rate_limited(self, reset_at: float | None) -> None:
        """Refuse quota-spending requests until `reset_at` (a Unix time)."""
        self.record_success()
        self._reset_known = reset_at is not None
        if reset_at is None:
            reset_at = self._clock() + self._rate_limit_backoff
        self._limited_until = reset_at

    def record_quota_left(self) -> None:
        """Lift the rate limit because an answer showed remaining quota."""
        self._limited_until = None
        self._reset_known = False

    def refusal(self, *, spends_quota: bool) -> Refusal | None:
        """Return why a request must not go upstream now, or None if it may."""
        now = self._clock()
        if self._down_until is not None and now < self._down_until:
            message = (
                f"upstream is unavailable ({self._down_reason}); the gateway "
                f"tries again after {format_time(self._down_until)}"
            )
            return Refusal(503, "UNAVAILABLE", message, self._down_until)
        if spends_quota and self._limited_until is not None:
            if now < self._limited_until:
                return rate_limit_refusal(self._limited_until, known=self._reset_known)
            self._limited_until = None
        return None


def rate_limit_refusal(reset_at: float | None, *, known: bool) -> Refusal:
    """Build the answer for a spent upstream rate limit."""
    if reset_at is not None and known:
        message = (
            f"upstream pull rate limit reached; it resets at {format_time(reset_at)}"
        )
    elif reset_at is not None:
        message = (
            "upstream pull rate limit reached; the upstream sent no reset "
            f"time, so the gateway tries again after {format_time(reset_at)}"
        )
    else:
        message = "upstream pull rate limit reached; the upstream sent no reset time"
    return Refusal(429, "TOOMANYREQUESTS", message, reset_at)


def format_time(moment: float) -> str:
    """Format a Unix time as UTC ISO 8601 with whole seconds."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
