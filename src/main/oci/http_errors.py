"""Turn httpx exceptions and registry error responses into RegistryError.

This is the one place where the client maps transport failures and HTTP
statuses to the project's error tree, so every message has the same shape:
what failed, the URL or reference, and what to try next.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from main.errors import ManifestNotFoundError, RateLimitedError, RegistryError

__all__ = [
    "RATE_LIMIT_HEADERS",
    "check_response",
    "deadline_error",
    "translate_transport_errors",
]

# Headers that Docker Hub and other registries send about their pull quota.
RATE_LIMIT_HEADERS = (
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "retry-after",
)

# Enough of an error body for the registry's error code and message.
_ERROR_BODY_MAX_BYTES = 8192
_DETAIL_MAX_CHARS = 200


@contextmanager
def translate_transport_errors(url: str) -> Iterator[None]:
    """Re-raise httpx transport errors inside the block as RegistryError."""
    try:
        yield
    except httpx.TimeoutException as exc:
        phase = _timeout_phase(exc)
        msg = (
            f"request to {url} timed out while {phase}; check that the registry "
            "is running and reachable, or raise the timeout"
        )
        raise RegistryError(msg, url=url) from exc
    except httpx.ConnectError as exc:
        msg = (
            f"cannot connect to {url}: {exc or 'connection failed'}; check that "
            "the registry is running at that address"
        )
        raise RegistryError(msg, url=url) from exc
    except httpx.TooManyRedirects as exc:
        msg = f"too many redirects from {url}; the registry sends a redirect loop"
        raise RegistryError(msg, url=url) from exc
    except httpx.DecodingError as exc:
        msg = f"cannot decode the response body from {url}: {exc}"
        raise RegistryError(msg, url=url) from exc
    except httpx.TransportError as exc:
        msg = f"request to {url} failed: {type(exc).__name__}: {exc or 'no detail'}"
        raise RegistryError(msg, url=url) from exc


def deadline_error(url: str, seconds: float) -> RegistryError:
    """Return the error for a response that did not finish within its deadline."""
    msg = (
        f"response from {url} did not finish within {seconds:g} s; the registry "
        "is too slow or stalled"
    )
    return RegistryError(msg, url=url)


async def check_response(response: httpx.Response, subject: str) -> None:
    """Raise the matching RegistryError unless the response status is 2xx.

    `subject` names what was requested, such as an image reference or a blob
    digest, so the message can say what is missing.
    """
    if response.is_success:
        return
    url = str(response.request.url)
    status = response.status_code
    detail = await _error_detail(response)

    if status == 404:
        msg = (
            f"{subject} not found at {url} (404{detail}); check the repository, "
            "tag and digest"
        )
        raise ManifestNotFoundError(msg, url=url, status=status)
    if status == 429 or "TOOMANYREQUESTS" in detail:
        msg = (
            f"rate limit reached for {subject} at {url} (429{detail}"
            f"{_rate_limit_figures(response)}); wait for the quota to reset or log in"
        )
        raise RateLimitedError(msg, url=url, status=status)
    if status in {401, 403}:
        msg = (
            f"access to {subject} at {url} was denied ({status}{detail}); check "
            "the credentials and that the repository exists"
        )
        raise RegistryError(msg, url=url, status=status)
    if status >= 500:
        msg = (
            f"registry error for {subject} at {url} ({status}{detail}); the "
            "registry or its upstream failed, try again later"
        )
        raise RegistryError(msg, url=url, status=status)
    msg = f"unexpected response for {subject} from {url} ({status}{detail})"
    raise RegistryError(msg, url=url, status=status)


def _timeout_phase(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connecting"
    if isinstance(exc, httpx.ReadTimeout):
        return "waiting for data"
    if isinstance(exc, httpx.WriteTimeout):
        return "sending the request"
    return "waiting for a free connection"


async def _error_detail(response: httpx.Response) -> str:
    """Return `: CODE message` from a registry error body, or "" if it has none."""
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= _ERROR_BODY_MAX_BYTES:
                break
    except httpx.HTTPError:
        # The status alone is enough to report; a broken error body adds nothing.
        return ""
    try:
        errors = json.loads(bytes(body)).get("errors") or []
        first = _innermost_error(errors[0])
        text = f"{first.get('code', '')} {first.get('message', '')}"
    except (ValueError, AttributeError, IndexError, TypeError, KeyError):
        return ""
    # Collapse whitespace so that the message stays on one line.
    text = " ".join(text.split())[:_DETAIL_MAX_CHARS]
    return f": {text}" if text else ""


def _innermost_error(error: dict[str, Any]) -> dict[str, Any]:
    """Return the upstream's own error that a proxy wrapped in `detail`.

    Distribution in proxy mode answers an upstream failure with `UNKNOWN`
    and puts the upstream's error document in `detail`, so the reason (such
    as TOOMANYREQUESTS) is one level down.
    """
    detail = error.get("detail")
    nested = detail.get("errors") if isinstance(detail, dict) else None
    if isinstance(nested, list) and nested and isinstance(nested[0], dict):
        return _innermost_error(nested[0])
    return error


def _rate_limit_figures(response: httpx.Response) -> str:
    figures = [
        f"{name}: {response.headers[name]}"
        for name in RATE_LIMIT_HEADERS
        if name in response.headers
    ]
    return f"; {', '.join(figures)}" if figures else ""
