"""Tests for the stand-in's token issuer, scopes and challenges."""

from __future__ import annotations

import base64

import pytest

from main.stack.hub_auth import (
    BasicCredentials,
    Scope,
    TokenCheck,
    TokenIssuer,
    bearer_challenge,
    parse_scope,
)


class FakeClock:
    """A monotonic clock that tests move forward by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def basic(username: str, password: str) -> str:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {encoded}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "repository:library/debian:pull",
            Scope("repository", "library/debian", frozenset({"pull"})),
            id="pull",
        ),
        pytest.param(
            "repository:localhost:5000/app:pull,push",
            Scope("repository", "localhost:5000/app", frozenset({"pull", "push"})),
            id="name-with-port",
        ),
        pytest.param(
            "registry:catalog:*",
            Scope("registry", "catalog", frozenset("*")),
            id="catalog",
        ),
        pytest.param("repository:library/debian", None, id="no-actions"),
        pytest.param("garbage", None, id="garbage"),
    ],
)
def test_parse_scope(text: str, expected: Scope | None) -> None:
    assert parse_scope(text) == expected


def test_challenge_with_scope_and_error() -> None:
    header = bearer_challenge(
        "http://127.0.0.1:1/token",
        "registry.docker.io",
        "repository:a/b:pull",
        "insufficient_scope",
    )

    assert header == (
        'Bearer realm="http://127.0.0.1:1/token",service="registry.docker.io",'
        'scope="repository:a/b:pull",error="insufficient_scope"'
    )


def test_issued_token_grants_its_repository() -> None:
    issuer = TokenIssuer()

    token = issuer.issue(["repository:library/debian:pull"])["token"]

    assert issuer.check(f"Bearer {token}", "library/debian") is TokenCheck.VALID
    assert issuer.check(f"Bearer {token}", None) is TokenCheck.VALID
    assert (
        issuer.check(f"Bearer {token}", "library/python")
        is TokenCheck.INSUFFICIENT_SCOPE
    )


def test_push_only_scope_grants_nothing() -> None:
    issuer = TokenIssuer()

    token = issuer.issue(["repository:library/debian:push"])["token"]

    assert (
        issuer.check(f"Bearer {token}", "library/debian")
        is TokenCheck.INSUFFICIENT_SCOPE
    )


def test_token_expires_after_lifetime() -> None:
    clock = FakeClock()
    issuer = TokenIssuer(lifetime_seconds=300, clock=clock)
    token = issuer.issue(["repository:a/b:pull"])["token"]

    clock.now += 300

    assert issuer.check(f"Bearer {token}", "a/b") is TokenCheck.INVALID


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        pytest.param(None, TokenCheck.MISSING, id="missing"),
        pytest.param(basic("a", "b"), TokenCheck.MISSING, id="basic-scheme"),
        pytest.param("Bearer unknown", TokenCheck.INVALID, id="unknown-token"),
    ],
)
def test_check_without_valid_token(
    authorization: str | None, expected: TokenCheck
) -> None:
    assert TokenIssuer().check(authorization, "a/b") is expected


@pytest.mark.parametrize(
    ("authorization", "allowed"),
    [
        pytest.param(basic("puller", "s3cret"), True, id="right"),
        pytest.param(basic("puller", "nope"), False, id="wrong-password"),
        pytest.param("Basic !!!", False, id="bad-base64"),
        pytest.param("Bearer x", False, id="bearer-scheme"),
        pytest.param(None, True, id="anonymous"),
    ],
)
def test_authenticate_with_credentials(
    authorization: str | None, allowed: bool
) -> None:
    issuer = TokenIssuer(credentials=BasicCredentials("puller", "s3cret"))

    assert issuer.authenticate(authorization) is allowed


def test_authenticate_anonymous_disabled() -> None:
    issuer = TokenIssuer(
        credentials=BasicCredentials("puller", "s3cret"), allow_anonymous=False
    )

    assert issuer.authenticate(None) is False


def test_any_credentials_accepted_when_none_configured() -> None:
    assert TokenIssuer().authenticate(basic("someone", "anything")) is True


def test_credentials_repr_hides_password() -> None:
    assert "s3cret" not in repr(BasicCredentials("puller", "s3cret"))
