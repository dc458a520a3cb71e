"""Stream registry requests from the Docker Hub stand-in to its upstream.

Bodies are streamed chunk by chunk in both directions of the proxy and never
held whole in memory, so multi-gigabyte layers pass through in constant space.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from types import TracebackType

import anyio
import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

__all__ = ["RegistryProxy", "registry_error"]

logger = logging.getLogger(__name__)

# Hop-by-hop headers (RFC 9110, section 7.6.1) and the headers the proxy sets
# itself; neither may be copied between the two connections.
_REQUEST_HEADERS_DROPPED = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_RESPONSE_HEADERS_DROPPED = frozenset(
    {"connection", "keep-alive", "trailer", "transfer-encoding", "upgrade", "date"}
)


def registry_error(status: int, code: str, message: str) -> Response:
    """Build a response with a registry error body `{"errors": [...]}`."""
    body = {"errors": [{"code": code, "message": message, "detail": None}]}
    return JSONResponse(body, status_code=status)


class RegistryProxy:
    """Forward GET and HEAD requests to one upstream registry.

    Use it as an async context manager: it owns one `httpx.AsyncClient` for
    its lifetime. Environment proxy settings are ignored because the
    upstream is always on 127.0.0.1.
    """

    def __init__(self, upstream_url: str, timeout_seconds: float) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.upstream_url,
            trust_env=False,
            timeout=httpx.Timeout(timeout_seconds, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    async def __aenter__(self) -> RegistryProxy:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._client.__aexit__(exc_type, exc, traceback)

    async def open(self, request: Request) -> httpx.Response | Response:
        """Send `request` upstream and return the streamed upstream response.

        An unreachable upstream gives a 502 registry error response instead.
        The caller must pass an upstream response to `relay`, which closes it.
        """
        # A list keeps repeated headers: Go clients such as distribution send
        # one Accept line per manifest media type.
        headers = [
            (key, value)
            for key, value in request.headers.items()
            if key.lower() not in _REQUEST_HEADERS_DROPPED
        ]
        upstream_request = self._client.build_request(
            request.method,
            request.url.path,
            params=request.url.query,
            headers=headers,
        )
        try:
            return await self._client.send(upstream_request, stream=True)
        except httpx.HTTPError as exc:
            logger.warning(
                "upstream request %s %s failed: %r",
                request.method,
                request.url.path,
                exc,
            )
            message = f"upstream registry {self.upstream_url} failed: {exc!r}"
            return registry_error(502, "UNAVAILABLE", message)

    def relay(
        self, upstream: httpx.Response, extra_headers: dict[str, str] | None = None
    ) -> Response:
        """Turn the upstream response into a streamed response for the client."""
        headers = {
            key: value
            for key, value in upstream.headers.items()
            if key.lower() not in _RESPONSE_HEADERS_DROPPED
        }
        headers.update(extra_headers or {})
        return StreamingResponse(
            _stream_body(upstream),
            status_code=upstream.status_code,
            headers=headers,
        )

    async def forward(
        self, request: Request, extra_headers: dict[str, str] | None = None
    ) -> Response:
        """Send `request` upstream and stream the response back."""
        upstream = await self.open(request)
        if not isinstance(upstream, httpx.Response):
            return upstream
        return self.relay(upstream, extra_headers)


async def _stream_body(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        # Shielded so that a client disconnect still returns the upstream
        # connection to the pool instead of leaking it.
        with anyio.CancelScope(shield=True):
            await upstream.aclose()
