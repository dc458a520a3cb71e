"""Fake upstream credentials, a spy on issued tokens, and a search for leaks."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from main.stack.hub_auth import TokenIssuer

USERNAME = "mirror-robot"
PASSWORD = "pw-Kq7xZ3vT9mWcR4"
BASIC_VALUE = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
# An Authorization header, or a field named after it, followed by a value.
AUTHORIZATION_VALUE = re.compile(
    r"authorization['\"]?\s*[:=]\s*['\"]?(basic|bearer)\s+\S", re.IGNORECASE
)


class TokenSpy:
    """Record every token that the Docker Hub stand-in issues."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        issue = TokenIssuer.issue
        spy = self

        def recording_issue(
            self: TokenIssuer, scopes: Iterable[str]
        ) -> dict[str, object]:
            body = issue(self, scopes)
            spy.tokens.append(str(body["token"]))
            return body

        monkeypatch.setattr(TokenIssuer, "issue", recording_issue)


def secret_values(tokens: Iterable[str]) -> list[str]:
    """Return every value that must never be written anywhere."""
    return [PASSWORD, BASIC_VALUE, *tokens]


def find_leaks(texts: Mapping[str, str], secrets: Iterable[str]) -> list[str]:
    """Name each text that contains a secret or an Authorization header value.

    The result shows only the first characters of a secret, so a failing
    test does not print it whole.
    """
    secrets = list(secrets)
    leaks = []
    for source, text in texts.items():
        for secret in secrets:
            if secret in text:
                leaks.append(f"{source} contains {secret[:4]}...")
        if AUTHORIZATION_VALUE.search(text):
            leaks.append(f"{source} contains an Authorization value")
    return leaks


def read_tree(root: Path, pattern: str = "**/*") -> dict[str, str]:
    """Read every file under `root` matching `pattern` as text."""
    texts = {}
    for path in sorted(root.glob(pattern)):
        if path.is_file() and not path.is_symlink():
            texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return texts
