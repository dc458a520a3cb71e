"""Bearer token authentication of the Docker Hub stand-in.

The flow follows the Docker registry token specification: a registry request
without a valid token gets 401 with a `WWW-Authenticate: Bearer` challenge that
names the token endpoint (`realm`), the `service` and the `scope` the request
needs. The client fetches a token for that scope and retries with
`Authorization: Bearer TOKEN`. Tokens here are random strings that the issuer
remembers, not JWTs, because clients treat tokens as opaque.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

__all__ = [
    "DOCKER_HUB_SERVICE",
    "BasicCredentials",
    "Scope",
    "TokenCheck",
    "TokenIssuer",
    "bearer_challenge",
    "parse_scope",
    "repository_scope",
]

DOCKER_HUB_SERVICE = "registry.docker.io"


@dataclass(frozen=True)
class Scope:
    """A parsed token scope such as `repository:library/debian:pull`."""

    resource_type: str
    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.resource_type}:{self.name}:{','.join(sorted(self.actions))}"


@dataclass(frozen=True)
class BasicCredentials:
    """User name and password that the token endpoint accepts."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"BasicCredentials(username={self.username!r}, password='***')"


class TokenCheck(Enum):
    """Outcome of checking a request's bearer token against a repository."""

    VALID = "valid"
    MISSING = "missing"
    INVALID = "invalid_token"
    INSUFFICIENT_SCOPE = "insufficient_scope"


@dataclass(frozen=True)
class _Grant:
    repositories: frozenset[str]
    expires_at: float


def parse_scope(text: str) -> Scope | None:
    """Parse `type:name:actions`; return None when `text` has another form.

    The name may itself contain colons (a registry host with a port), so the
    type ends at the first colon and the actions start after the last one.
    """
    resource_type, _, rest = text.partition(":")
    name, _, actions = rest.rpartition(":")
    if not resource_type or not name or not actions:
        return None
    return Scope(resource_type, name, frozenset(actions.split(",")))


def repository_scope(repository: str) -> str:
    """Return the pull scope string for `repository`."""
    return f"repository:{repository}:pull"


def bearer_challenge(
    realm: str,
    service: str,
    scope: str | None = None,
    error: str | None = None,
) -> str:
    """Build the `WWW-Authenticate` value of a 401 response."""
    parts = [f'realm="{realm}"', f'service="{service}"']
    if scope is not None:
        parts.append(f'scope="{scope}"')
    if error is not None:
        parts.append(f'error="{error}"')
    return "Bearer " + ",".join(parts)


class TokenIssuer:
    """Issue pull tokens and check them on registry requests.

    Without `credentials` every client gets a token anonymously. With them,
    a request that sends Basic credentials must send the right ones, and
    `allow_anonymous` decides whether a request without any still gets a token.
    Only the `pull` action is granted because the stand-in serves pulls only.
    """

    def __init__(
        self,
        *,
        credentials: BasicCredentials | None = None,
        allow_anonymous: bool = True,
        lifetime_seconds: int = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._allow_anonymous = allow_anonymous
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._grants: dict[str, _Grant] = {}

    def authenticate(self, authorization: str | None) -> bool:
        """Return whether a token request with this `Authorization` may proceed."""
        if authorization is None:
            return self._allow_anonymous or self._credentials is None
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        username, _, password = decoded.partition(":")
        if self._credentials is None:
            # Docker clients send stored credentials even to registries that do
            # not need them, so any user name works when none is configured.
            return True
        user_ok = hmac.compare_digest(username, self._credentials.username)
        password_ok = hmac.compare_digest(password, self._credentials.password)
        return user_ok and password_ok

    def issue(self, scopes: Iterable[str]) -> dict[str, object]:
        """Create a token for the pull scopes among `scopes`; return the body.

        The body has the fields of the token specification: `token`, its
        alias `access_token`, `expires_in` in seconds and `issued_at`.
        """
        now = self._clock()
        self._forget_expired(now)
        repositories = frozenset(
            scope.name
            for scope in (parse_scope(text) for text in scopes)
            if scope is not None
            and scope.resource_type == "repository"
            and scope.actions & {"pull", "*"}
        )
        token = secrets.token_urlsafe(32)
        self._grants[token] = _Grant(repositories, now + self._lifetime)
        issued_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "token": token,
            "access_token": token,
            "expires_in": self._lifetime,
            "issued_at": issued_at,
        }

    def check(self, authorization: str | None, repository: str | None) -> TokenCheck:
        """Check the bearer token in `authorization` for pulls from `repository`.

        A None `repository` (the `/v2/` version check) needs any valid token.
        """
        if authorization is None:
            return TokenCheck.MISSING
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return TokenCheck.MISSING
        grant = self._grants.get(token.strip())
        if grant is None or grant.expires_at <= self._clock():
            return TokenCheck.INVALID
        if repository is not None and repository not in grant.repositories:
            return TokenCheck.INSUFFICIENT_SCOPE
        return TokenCheck.VALID

    def _forget_expired(self, now: float) -> None:
        expired = [
            token for token, grant in self._grants.items() if grant.expires_at <= now
        ]
        for token in expired:
            del self._grants[token]
