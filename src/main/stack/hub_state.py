"""Counters, pull quota and fault mode of the Docker Hub stand-in.

All state lives in one `HubState` object that the stand-in's handlers update
and the benchmark reads. The handlers run on one event loop and never await
between reading and writing a counter, so no lock is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import anyio

__all__ = [
    "RATE_LIMIT_WINDOW_SECONDS",
    "FaultMode",
    "HubState",
    "HubStats",
    "RequestKind",
    "classify_path",
]

RATE_LIMIT_WINDOW_SECONDS = 21600
"""Window that Docker Hub names in its `ratelimit-*` headers (`w=21600`)."""

RequestKind = Literal["manifest", "blob", "token", "other"]

_MANIFEST_PATH = re.compile(r"/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)")
_BLOB_PATH = re.compile(r"/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)")
_REPOSITORY_PATH = re.compile(r"/v2/(?P<name>.+)/(tags/list|blobs/uploads/.*)")


class FaultMode(StrEnum):
    """Failure the stand-in injects into every registry and token request."""

    NORMAL = "normal"
    REFUSE = "refuse"
    """Close each connection as soon as a request arrives, without a response."""
    HANG = "hang"
    """Hold each request open until the mode changes or the hang limit passes."""
    ERROR500 = "error500"
    """Respond 500 with a registry error body."""
    RATELIMIT = "ratelimit"
    """Respond 429 to every manifest GET, as if the pull quota were spent."""


def classify_path(path: str) -> tuple[RequestKind, str | None]:
    """Return the request kind of `path` and the repository it names, if any."""
    if path == "/token":
        return "token", None
    for kind, pattern in (("manifest", _MANIFEST_PATH), ("blob", _BLOB_PATH)):
        match = pattern.fullmatch(path)
        if match is not None:
            return kind, match["name"]  # type: ignore[return-value]
    match = _REPOSITORY_PATH.fullmatch(path)
    if match is not None:
        return "other", match["name"]
    return "other", None


@dataclass
class HubStats:
    """Snapshot of the stand-in's counters since the last reset.

    `requests` maps an HTTP method to counts per request kind. `bytes_sent`
    counts response body bytes on registry and token paths. A counted pull is
    a manifest GET that got a 2xx response from the upstream, and a failed one
    gives its quota back. `rejected_pulls` counts manifest GETs that got 429.
    """

    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    bytes_sent: int = 0
    counted_pulls: int = 0
    rejected_pulls: int = 0
    limit: int = 100
    remaining: int = 100
    window_seconds: int = RATE_LIMIT_WINDOW_SECONDS
    fault: FaultMode = FaultMode.NORMAL

    @property
    def requests_total(self) -> int:
        """Number of requests of every method and kind."""
        return sum(sum(kinds.values()) for kinds in self.requests.values())

    def count(self, method: str, kind: RequestKind) -> int:
        """Return the number of requests with `method` and `kind`."""
        return self.requests.get(method, {}).get(kind, 0)

    def to_json(self) -> dict[str, object]:
        """Return the snapshot as the JSON object that GET /_standin/stats sends."""
        return {
            "requests": {
                method: dict(kinds) for method, kinds in self.requests.items()
            },
            "requests_total": self.requests_total,
            "bytes_sent": self.bytes_sent,
            "counted_pulls": self.counted_pulls,
            "rejected_pulls": self.rejected_pulls,
            "limit": self.limit,
            "remaining": self.remaining,
            "window_seconds": self.window_seconds,
            "fault": self.fault.value,
        }


class HubState:
    """Mutable counters, pull quota and fault mode shared by the handlers.

    The quota never refills on its own: only `reset` restores it, so a
    benchmark run counts exactly the pulls it caused.
    """

    def __init__(self, limit: int) -> None:
        self._stats = HubStats(limit=limit, remaining=limit)
        self._fault_changed = anyio.Event()
        self.closing = False

    @property
    def fault(self) -> FaultMode:
        """Fault mode in effect."""
        return self._stats.fault

    @property
    def limit(self) -> int:
        """Number of pulls allowed since the last reset."""
        return self._stats.limit

    @property
    def remaining(self) -> int:
        """Number of pulls left before manifest GETs get 429."""
        return self._stats.remaining

    def snapshot(self) -> HubStats:
        """Return a copy of the counters that later requests do not change."""
        stats = self._stats
        return HubStats(
            requests={method: dict(kinds) for method, kinds in stats.requests.items()},
            bytes_sent=stats.bytes_sent,
            counted_pulls=stats.counted_pulls,
            rejected_pulls=stats.rejected_pulls,
            limit=stats.limit,
            remaining=stats.remaining,
            window_seconds=stats.window_seconds,
            fault=stats.fault,
        )

    def reset(self, limit: int | None = None) -> None:
        """Zero the counters and refill the quota, to `limit` when given."""
        new_limit = self._stats.limit if limit is None else limit
        if new_limit < 0:
            msg = f"invalid pull limit {new_limit}; use 0 or more"
            raise ValueError(msg)
        self._stats = HubStats(
            limit=new_limit, remaining=new_limit, fault=self._stats.fault
        )

    def set_fault(self, mode: FaultMode) -> None:
        """Switch the fault mode and wake requests held by the `hang` mode."""
        self._stats.fault = mode
        self._fault_changed.set()
        self._fault_changed = anyio.Event()

    async def wait_fault_change(self) -> None:
        """Wait until `set_fault` or `release_held` is called."""
        await self._fault_changed.wait()

    def release_held(self) -> None:
        """Let requests held by the `hang` mode finish, before a shutdown."""
        self.closing = True
        self._fault_changed.set()

    def record_request(self, method: str, kind: RequestKind) -> None:
        """Count one request."""
        kinds = self._stats.requests.setdefault(method, {})
        kinds[kind] = kinds.get(kind, 0) + 1

    def record_bytes(self, size: int) -> None:
        """Count `size` response body bytes."""
        self._stats.bytes_sent += size

    def reject_pull(self) -> None:
        """Count a manifest GET that got 429."""
        self._stats.rejected_pulls += 1

    def reserve_pull(self) -> bool:
        """Take one pull from the quota, or count a rejection and return False.

        The caller either keeps the reservation with `confirm_pull` or gives it
        back with `release_pull`, so concurrent pulls never overdraw the quota.
        """
        if self._stats.remaining <= 0:
            self.reject_pull()
            return False
        self._stats.remaining -= 1
        return True

    def confirm_pull(self) -> None:
        """Count a reserved pull that succeeded."""
        self._stats.counted_pulls += 1

    def release_pull(self) -> None:
        """Give back a reserved pull that failed."""
        self._stats.remaining = min(self._stats.remaining + 1, self._stats.limit)
