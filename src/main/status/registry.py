"""Read the contents of a mirror over the registry API, page by page.

`/v2/_catalog` lists the repositories a mirror has stored. `tags/list` on a
proxy asks the upstream first and lists local tags only when the upstream
fails (`proxyTagService.All` in distribution 2.8 and 3), so tag lists show
what the upstream offers for a cached repository. Both are paged with a
modest `n` and the `Link: <...>; rel="next"` header, because some
distribution versions answer 400 or 500 to a large `n`
(https://github.com/distribution/distribution/issues/4844).

The debug server's `/debug/vars` (Go's expvar) holds the proxy's counters
under `registry.proxy.blobs` and `registry.proxy.manifests` in both 2.8.2
and 3.x: requests served, hits, misses, bytes pulled from the upstream.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from main.errors import RegistryError

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "Listing",
    "ProxyCounters",
    "list_repositories",
    "list_tags",
    "read_proxy_counters",
]

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_PAGES = 20


@dataclass(frozen=True)
class Listing:
    """Names read from a paged list; `complete` is False if paging stopped early."""

    items: tuple[str, ...] = ()
    complete: bool = True
    error: str | None = None


@dataclass(frozen=True)
class ProxyCounters:
    """A proxy's counters since it started, for blobs and manifests together."""

    requests: int
    hits: int
    misses: int
    bytes_pulled: int


async def list_repositories(
    client: httpx.AsyncClient,
    base_url: str,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Listing:
    """List the repositories a registry has stored."""
    url = f"{base_url.rstrip('/')}/v2/_catalog?n={page_size}"
    return await _paged(client, url, "repositories", page_size, max_pages)


async def list_tags(
    client: httpx.AsyncClient,
    base_url: str,
    repository: str,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Listing:
    """List the tags of one repository."""
    path = quote(repository, safe="/")
    url = f"{base_url.rstrip('/')}/v2/{path}/tags/list?n={page_size}"
    return await _paged(client, url, "tags", page_size, max_pages)


async def read_proxy_counters(
    client: httpx.AsyncClient, debug_url: str
) -> ProxyCounters | None:
    """Read the proxy counters from the debug server, or None if it has none.

    Raises RegistryError when the debug server cannot be reached.
    """
    response = await _get(client, f"{debug_url.rstrip('/')}/debug/vars")
    try:
        proxy = response.json()["registry"]["proxy"]
        parts = [proxy["blobs"], proxy["manifests"]]
    except (ValueError, KeyError, TypeError):
        return None
    return ProxyCounters(
        requests=sum(_count(part, "Requests") for part in parts),
        hits=sum(_count(part, "Hits") for part in parts),
        misses=sum(_count(part, "Misses") for part in parts),
        bytes_pulled=sum(_count(part, "BytesPulled") for part in parts),
    )


async def _paged(
    client: httpx.AsyncClient, url: str, field: str, page_size: int, max_pages: int
) -> Listing:
    items: list[str] = []
    next_url: str | None = url
    for _ in range(max_pages):
        if next_url is None:
            return Listing(tuple(items))
        try:
            response = await _get(client, next_url)
        except RegistryError as exc:
            error = _describe(exc, page_size)
            return Listing(tuple(items), complete=False, error=error)
        try:
            page = response.json().get(field) or []
        except (ValueError, AttributeError):
            error = f"GET {next_url} did not return a JSON object with {field!r}"
            return Listing(tuple(items), complete=False, error=error)
        items.extend(str(item) for item in page)
        next_url = _next_link(response)
    return Listing(tuple(items), complete=next_url is None)


async def _get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """GET `url`, translating transport errors and error statuses to RegistryError."""
    logger.info("GET %s", url)
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        msg = f"GET {url} failed: {exc.__class__.__name__}: {exc}"
        raise RegistryError(msg, url=url) from exc
    if response.status_code >= 400:
        msg = f"GET {url} answered {response.status_code} {response.reason_phrase}"
        raise RegistryError(msg, url=url, status=response.status_code)
    return response


def _next_link(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    if not link or "url" not in link:
        return None
    return str(response.url.join(link["url"]))


def _describe(exc: RegistryError, page_size: int) -> str:
    if exc.status == 400:
        return (
            f"{exc}: the registry rejects pages of n={page_size}; "
            "retry with a smaller --page-size"
        )
    return str(exc)


def _count(part: Any, name: str) -> int:
    value = part.get(name, 0) if isinstance(part, dict) else 0
    return int(value) if isinstance(value, int) else 0
