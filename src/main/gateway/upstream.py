"""Send requests to the upstream registry with timeouts, auth and accounting.

This module is the one place where httpx errors from the upstream become
`RegistryError` (status 0 when no response arrived), and where every
upstream answer updates the health state and the metrics: request counts,
body bytes, counted pulls and the last quota the upstream reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from main.errors import RegistryError
from main.gateway.config import GatewayConfig
from main.gateway.health import UpstreamHealth
from main.gateway.metrics import GatewayMetrics
from main.gateway.ratelimit import parse_quota, parse_reset_time
from main.oci.auth import RegistryTokenAuth

__all__ = ["USER_AGENT", "UpstreamClient"]

logger = logging.getLogger(__name__)

USER_AGENT = "registry-mirror-gateway"
_CHUNK_SIZE = 256 * 1024
# Statuses that mean the whole upstream is unavailable, so the gateway backs
# off. Another 5xx, such as a 500 for one broken object, fails that object only.
_UNAVAILABLE = frozenset({502, 503, 504})


class UpstreamClient:
    """HTTP client of one upstream registry, shared by every request."""

    def __init__(
        self,
        config: GatewayConfig,
        health: UpstreamHealth,
        metrics: GatewayMetrics,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        timeout = httpx.Timeout(
            connect=config.connect_timeout,
            read=config.read_timeout,
            write=config.read_timeout,
            pool=config.connect_timeout,
        )
        credentials = config.credentials
        auth = RegistryTokenAuth(
            credentials.username if credentials else None,
            credentials.password if credentials else None,
            # Not the hosts that blob redirects lead to: they get no login.
            credential_hosts={httpx.URL(config.upstream_url).netloc.decode("ascii")},
        )
        self._client = httpx.AsyncClient(
            base_url=config.upstream_url,
            auth=auth,
            timeout=timeout,
            follow_redirects=True,
            trust_env=config.use_env_proxy,
            transport=transport,
            # Identity encoding keeps the bytes that the digest covers.
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        )
        self._health = health
        self._metrics = metrics

    async def aclose(self) -> None:
        """Close the connections to the upstream and its token service."""
        await self._client.aclose()

    @asynccontextmanager
    async def open(
        self, kind: str, method: str, path: str, headers: Mapping[str, str]
    ) -> AsyncIterator[httpx.Response]:
        """Send one request and yield the response with its body still unread.

        Raises `RegistryError` with status 0 when no response arrives, for
        example on a refused connection or a timeout.
        """
        request = self._client.build_request(method, path, headers=dict(headers))
        url = str(request.url)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            self._record_failure(kind, method, url, exc)
            msg = f"upstream request {method} {url} failed: {_describe(exc)}"
            raise RegistryError(msg, url=url) from exc
        except RegistryError as exc:
            self._record_failure(kind, method, url, exc)
            raise
        try:
            self._observe(kind, method, response)
            yield response
        finally:
            await response.aclose()

    async def iter_body(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """Yield the body of an opened response and count its bytes.

        Raises `RegistryError` when the upstream stops sending or times out
        before the end.
        """
        try:
            async for chunk in response.aiter_raw(_CHUNK_SIZE):
                self._metrics.upstream_bytes.inc(len(chunk))
                yield chunk
        except httpx.HTTPError as exc:
            url = str(response.request.url)
            # A timeout means the upstream hangs. A body cut short means only
            # that this object failed, which must not stop every other fetch.
            if isinstance(exc, httpx.TimeoutException):
                self._health.record_failure(_describe(exc))
                self._metrics.upstream_up.set(0)
            msg = f"upstream stopped sending {url}: {_describe(exc)}"
            raise RegistryError(msg, url=url, status=response.status_code) from exc

    def _observe(self, kind: str, method: str, response: httpx.Response) -> None:
        status = response.status_code
        self._metrics.upstream_requests.labels(kind, method, str(status)).inc()
        if kind == "manifest" and method == "GET":
            self._metrics.counted_pulls.inc()
        logger.info("upstream %s %s -> %d", method, response.request.url, status)

        quota = parse_quota(response.headers)
        if quota is not None:
            if quota.remaining is not None:
                self._metrics.ratelimit_remaining.set(quota.remaining)
                if quota.remaining > 0 and status != 429:
                    self._health.record_quota_left()
            if quota.limit is not None:
                self._metrics.ratelimit_limit.set(quota.limit)

        if status == 429:
            reset_at = parse_reset_time(response.headers, time.time())
            self._health.record_rate_limited(reset_at)
        elif status in _UNAVAILABLE:
            self._health.record_failure(f"HTTP {status} from {response.request.url}")
        else:
            self._health.record_success()
        self._metrics.upstream_up.set(0 if self._health.down else 1)

    def _record_failure(self, kind: str, method: str, url: str, exc: Exception) -> None:
        self._metrics.upstream_requests.labels(kind, method, "error").inc()
        self._health.record_failure(_describe(exc))
        self._metrics.upstream_up.set(0)
        logger.warning("upstream %s %s failed: %s", method, url, _describe(exc))


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed ({exc})"
    return str(exc) or type(exc).__name__
