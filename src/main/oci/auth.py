"""The registry token challenge as an httpx.Auth flow.

A registry such as Docker Hub responds to an anonymous request with 401 and
`WWW-Authenticate: Bearer realm="...",service="...",scope="..."`. The client
then asks the realm for a token (with HTTP basic credentials when it has any),
repeats the request once with `Authorization: Bearer <token>`, and reuses the
token for later requests in the same repository until it expires.

Tokens and credentials are never logged and never put in error messages.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, Collection, Generator
from dataclasses import dataclass

import anyio
import httpx

from main.errors import RegistryError
from main.oci.http_errors import check_response

__all__ = ["Challenge", "RegistryTokenAuth", "parse_challenge", "scope_for_path"]

logger = logging.getLogger(__name__)

# Token lifetime assumed when the token response has no expires_in. A short
# guess costs at most one extra token request when it is wrong.
DEFAULT_TOKEN_SECONDS = 60
# Renew a cached token this many seconds before it expires, so that a request
# does not reach the registry with a token that expires on the way.
_EXPIRY_MARGIN_SECONDS = 5

_PARAMETER = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_REPOSITORY_PATH = re.compile(r"^/v2/(.+)/(?:manifests|blobs|tags)/")


@dataclass(frozen=True)
class Challenge:
    """A parsed WWW-Authenticate header."""

    scheme: str
    realm: str = ""
    service: str = ""
    scope: str = ""


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float

    def fresh(self) -> bool:
        return time.monotonic() < self.expires_at - _EXPIRY_MARGIN_SECONDS


def parse_challenge(header: str | None) -> Challenge | None:
    """Parse a Bearer or Basic WWW-Authenticate header, or return None."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in {"bearer", "basic"}:
        return None
    parameters = {
        match.group(1).lower(): match.group(2)
        if match.group(2) is not None
        else match.group(3)
        for match in _PARAMETER.finditer(rest)
    }
    return Challenge(
        scheme=scheme,
        realm=parameters.get("realm", ""),
        service=parameters.get("service", ""),
        scope=parameters.get("scope", ""),
    )


def scope_for_path(path: str) -> str:
    """Return the pull scope for a registry API path, or "" outside a repository."""
    match = _REPOSITORY_PATH.match(path)
    if match is None:
        return ""
    return f"repository:{match.group(1)}:pull"


class RegistryTokenAuth(httpx.Auth):
    """Handle registry token challenges, caching one token per host and scope.

    `token_requests` counts the requests sent to token realms, so tests and
    the benchmark can check that tokens are reused.
    """

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        credential_hosts: Collection[str] | None = None,
    ):
        if (username is None) != (password is None):
            msg = "registry credentials need both a user name and a password"
            raise ValueError(msg)
        self._basic = _basic_header(username, password)
        # Registries redirect blobs to storage hosts that may respond 401 with a
        # realm of their choice, so only these hosts' challenges get the login.
        self._credential_hosts = (
            None if credential_hosts is None else frozenset(credential_hosts)
        )
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._locks: dict[tuple[str, str], anyio.Lock] = {}
        self.token_requests = 0

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Reject use with a synchronous client, which this project never uses."""
        raise TypeError("RegistryTokenAuth works only with httpx.AsyncClient")
        yield request  # pragma: no cover

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send the request and handle one 401 challenge if the registry sends it."""
        key = (request.url.netloc.decode("ascii"), scope_for_path(request.url.path))
        cached = self._tokens.get(key)
        if cached is not None and cached.fresh():
            request.headers["Authorization"] = f"Bearer {cached.value}"
        response = yield request

        if response.status_code != 401:
            return
        challenge = parse_challenge(response.headers.get("www-authenticate"))
        if challenge is None:
            return
        if challenge.scheme == "basic":
            if self._basic is not None and self._trusts(request.url, request.url):
                request.headers["Authorization"] = self._basic
                yield request
            return

        async with self._lock_for(key):
            token = self._tokens.get(key)
            # Another task may have renewed the token while this one waited.
            if token is None or not token.fresh() or token == cached:
                token_request = self._token_request(request, challenge, key[1])
                token_response = yield token_request
                token = await self._read_token(token_response, challenge)
                self._tokens[key] = token
        request.headers["Authorization"] = f"Bearer {token.value}"
        yield request

    def _lock_for(self, key: tuple[str, str]) -> anyio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = anyio.Lock()
        return lock

    def _token_request(
        self, request: httpx.Request, challenge: Challenge, path_scope: str
    ) -> httpx.Request:
        if not challenge.realm.startswith(("http://", "https://")):
            msg = (
                f"the registry at {request.url.host} sent a Bearer challenge with "
                f"realm {challenge.realm!r}, which is not an http(s) URL"
            )
            raise RegistryError(msg, url=str(request.url), status=401)
        params: dict[str, str] = {}
        if challenge.service:
            params["service"] = challenge.service
        scope = challenge.scope or path_scope
        if scope:
            params["scope"] = scope
        realm = httpx.URL(challenge.realm)
        trusted = self._basic is not None and self._trusts(request.url, realm)
        if self._basic is not None and not trusted:
            logger.warning(
                "not sending the registry login to %s, which %s named as its "
                "token realm; asking for an anonymous token",
                realm.host,
                request.url.host,
            )
        headers = {"Authorization": self._basic} if trusted and self._basic else {}
        self.token_requests += 1
        logger.info(
            "requesting a registry token from %s for scope %r", challenge.realm, scope
        )
        return httpx.Request(
            "GET",
            challenge.realm,
            params=params,
            headers=headers,
            # Keep the timeouts that the client set on the original request.
            extensions={"timeout": request.extensions.get("timeout")},
        )

    async def _read_token(
        self, response: httpx.Response, challenge: Challenge
    ) -> _Token:
        await check_response(response, f"a token for scope {challenge.scope!r}")
        await response.aread()
        try:
            document = json.loads(response.content)
            value = document.get("token") or document.get("access_token")
            lifetime = int(document.get("expires_in") or DEFAULT_TOKEN_SECONDS)
        except (ValueError, AttributeError, TypeError) as exc:
            msg = f"the token response from {challenge.realm} is not valid JSON"
            raise RegistryError(msg, url=challenge.realm, status=200) from exc
        if not isinstance(value, str) or not value:
            msg = f"the token response from {challenge.realm} contains no token"
            raise RegistryError(msg, url=challenge.realm, status=200)
        return _Token(value, time.monotonic() + lifetime)

    def _trusts(self, origin: httpx.URL, realm: httpx.URL) -> bool:
        """Return whether the login may go to `realm` for a challenge from `origin`.

        The challenging host must be one the login is for, the realm must be
        on the same site (as auth.docker.io is for registry-1.docker.io), and
        an https registry's login never travels over plain http.
        """
        hosts = self._credential_hosts
        if hosts is not None and _netloc(origin) not in hosts:
            return False
        if origin.scheme == "https" and realm.scheme != "https":
            return False
        return same_site(_netloc(origin), _netloc(realm))


def same_site(first: str, second: str) -> bool:
    """Return whether two `host[:port]` values belong to one site.

    DNS names match when they share their last two labels, whatever the
    port; IP addresses and single-label names must match with their port,
    since one machine serves many unrelated services.
    """
    if first == second:
        return True
    first_host = httpx.URL(f"//{first}").host
    second_host = httpx.URL(f"//{second}").host
    if _is_ip_address(first_host) or _is_ip_address(second_host):
        return False
    first_labels = first_host.lower().split(".")
    second_labels = second_host.lower().split(".")
    if min(len(first_labels), len(second_labels)) < 2:
        return False
    return first_labels[-2:] == second_labels[-2:]


def _netloc(url: httpx.URL) -> str:
    """Return `host[:port]` of a URL, without the default port of its scheme."""
    return url.netloc.decode("ascii")


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _basic_header(username: str | None, password: str | None) -> str | None:
    if username is None or password is None:
        return None
    pair = f"{username}:{password}".encode()
    return f"Basic {base64.b64encode(pair).decode('ascii')}"
