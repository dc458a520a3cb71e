"""Emulate a wide-area network link in front of an ASGI app.

`WanMiddleware` delays each request by one round-trip time and paces response
bodies through a `SharedLink`, so all responses together never exceed the
link's bandwidth, as on one real WAN link. A value of 0 disables either part.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CHUNK_SIZE", "SharedLink", "WanMeter", "WanMiddleware", "WanProfile"]

CHUNK_SIZE = 64 * 1024
"""Largest body piece sent at once, so pacing stays smooth for big chunks."""


@dataclass(frozen=True)
class WanProfile:
    """Round-trip time in milliseconds and bandwidth in Mbit/s; 0 disables each."""

    rtt_ms: float = 20.0
    bandwidth_mbit: float = 100.0

    def __post_init__(self) -> None:
        if self.rtt_ms < 0 or self.bandwidth_mbit < 0:
            msg = (
                f"invalid WAN profile rtt={self.rtt_ms} ms, "
                f"bandwidth={self.bandwidth_mbit} Mbit/s; use 0 or more"
            )
            raise ValueError(msg)

    @property
    def bytes_per_second(self) -> float:
        """Bandwidth in bytes per second, 0 when unlimited."""
        return self.bandwidth_mbit * 1_000_000 / 8


@dataclass
class WanMeter:
    """Counts of what the WAN emulation delayed, for tests and the benchmark."""

    delayed_requests: int = 0
    paced_bytes: int = 0


class SharedLink:
    """A link that transmits one chunk at a time at a fixed rate.

    Each chunk reserves the next free transmission slot, so concurrent
    responses queue behind each other and share the bandwidth.
    """

    def __init__(
        self, bytes_per_second: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = bytes_per_second
        self._clock = clock
        self._free_at = 0.0

    def reserve(self, size: int) -> float:
        """Reserve transmission of `size` bytes; return seconds to wait first.

        The wait ends when the chunk has left the link, so the sender sleeps
        for the chunk's own transmission time plus any queue ahead of it.
        """
        if self._rate <= 0:
            return 0.0
        now = self._clock()
        start = max(now, self._free_at)
        self._free_at = start + size / self._rate
        return self._free_at - now


class WanMiddleware:
    """Add round-trip time and paced bodies to every HTTP request.

    Paths that start with one of `exempt_prefixes` (the stand-in's own
    control endpoints) pass without delay.
    """

    def __init__(
        self,
        app: ASGIApp,
        profile: WanProfile,
        *,
        meter: WanMeter | None = None,
        exempt_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.profile = profile
        self.link = SharedLink(profile.bytes_per_second)
        self.meter = meter or WanMeter()
        self._exempt = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self._exempt):
            await self.app(scope, receive, send)
            return
        if self.profile.rtt_ms > 0:
            self.meter.delayed_requests += 1
            await anyio.sleep(self.profile.rtt_ms / 1000)
        if self.profile.bandwidth_mbit <= 0:
            await self.app(scope, receive, send)
            return

        async def paced_send(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
                return
            await self._send_paced(message, send)

        await self.app(scope, receive, paced_send)

    async def _send_paced(self, message: Message, send: Send) -> None:
        body: bytes = message.get("body", b"")
        more_body: bool = message.get("more_body", False)
        if not body:
            await send(message)
            return
        for offset in range(0, len(body), CHUNK_SIZE):
            piece = body[offset : offset + CHUNK_SIZE]
            delay = self.link.reserve(len(piece))
            self.meter.paced_bytes += len(piece)
            if delay > 0:
                await anyio.sleep(delay)
            last = offset + CHUNK_SIZE >= len(body)
            await send(
                {
                    "type": "http.response.body",
                    "body": piece,
                    "more_body": more_body or not last,
                }
            )
