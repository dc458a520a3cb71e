"""Build the gateway's HTTP responses: streamed flights, known tags and errors."""

from __future__ import annotations

import logging
import math
import time

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from main.gateway.fetch import error_body
from main.gateway.flights import Flight, FlightAbortedError, FlightState
from main.gateway.health import Refusal
from main.gateway.known_tags import KnownTag

__all__ = [
    "API_VERSION_HEADER",
    "FlightResponse",
    "error_response",
    "flight_response",
    "known_tag_response",
    "refusal_response",
]

logger = logging.getLogger(__name__)

API_VERSION_HEADER = {"Docker-Distribution-Api-Version": "registry/2.0"}
# Tells logs and tests that an answer came from the known-tags store.
SOURCE_HEADER = "X-Registry-Mirror-Source"


class FlightResponse(Response):
    """Stream a flight's body to one client as the spool grows.

    When the flight is aborted, for example on a digest mismatch, the response
    ends without its last byte and without the end of the message, so the
    server closes the connection and the client sees a truncated body.
    """

    def __init__(self, flight: Flight) -> None:
        self.flight = flight
        self.status_code = flight.status
        self.background = None
        self.init_headers({**flight.headers, **API_VERSION_HEADER})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the status line, headers and body chunks."""
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
            }
        )
        try:
            async for chunk in self.flight.iter_body():
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": True}
                )
        except FlightAbortedError as exc:
            logger.warning(
                "ending response for %s %s early: %s",
                self.flight.key.kind,
                self.flight.key.reference,
                exc,
            )
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def flight_response(flight: Flight, method: str) -> Response:
    """Answer from a flight whose headers arrived or which failed."""
    if flight.error is not None:
        headers = {**flight.error.headers, **API_VERSION_HEADER}
        return Response(flight.error.body, flight.error.status, headers)
    if flight.state is FlightState.FAILED:
        return error_response(502, "UNAVAILABLE", flight.abort_reason)
    if method == "HEAD":
        return Response(b"", flight.status, {**flight.headers, **API_VERSION_HEADER})
    return FlightResponse(flight)


def known_tag_response(entry: KnownTag, reason: str) -> Response:
    """Answer a tag HEAD with the descriptor recorded on an earlier success."""
    headers = {
        "Content-Type": entry.media_type,
        "Content-Length": str(entry.size),
        "Docker-Content-Digest": entry.digest,
        "Etag": f'"{entry.digest}"',
        SOURCE_HEADER: f"known-tags; upstream {reason}",
        **API_VERSION_HEADER,
    }
    return Response(b"", 200, headers)


def refusal_response(refusal: Refusal) -> Response:
    """Answer a request that the gateway does not send upstream now."""
    return error_response(
        refusal.status, refusal.code, refusal.message, retry_at=refusal.retry_at
    )


def error_response(
    status: int, code: str, message: str, *, retry_at: float | None = None
) -> Response:
    """Build a registry error response, with Retry-After when `retry_at` is known."""
    headers = {"Content-Type": "application/json", **API_VERSION_HEADER}
    if retry_at is not None:
        headers["Retry-After"] = str(max(math.ceil(retry_at - time.time()), 0))
    return Response(error_body(code, message), status, headers)
