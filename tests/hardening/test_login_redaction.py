"""Messages about a value with a login quote the value without the login."""

from __future__ import annotations

import pytest

from main.errors import InvalidReferenceError, SettingsError, UsageError
from main.reference import parse_reference
from main.settings import load_settings
from main.settings.values import check_url
from main.status.collect import collect_status
from tests.hardening.leaks import PASSWORD

pytestmark = pytest.mark.anyio

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"robot:{PASSWORD}@127.0.0.1:1/library/debian:12", id="host"),
        pytest.param(f"robot:{PASSWORD}@ghcr.io/org/app", id="no-tag"),
        pytest.param(f"robot:a@{PASSWORD}@ghcr.io/org/app", id="at-in-password"),
        pytest.param(f"robot:a/{PASSWORD}@ghcr.io/org/app", id="slash-in-password"),
        pytest.param(f"robot:{PASSWORD} x@ghcr.io/org/app", id="space-in-password"),
        pytest.param(f"robot:{PASSWORD}!@ghcr.io/org/app", id="bad-tag-character"),
    ],
)
def test_reference_login_not_quoted(text: str) -> None:
    with pytest.raises(InvalidReferenceError) as raised:
        parse_reference(text)

    assert PASSWORD not in str(raised.value)
    assert "***@" in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("debian:12@" + DIGEST, id="tag-and-digest"),
        pytest.param("library/debian@" + DIGEST, id="digest"),
        pytest.param("127.0.0.1:5000/app:1@" + DIGEST, id="host-port"),
    ],
)
def test_digest_reference_still_valid(text: str) -> None:
    reference = parse_reference(text)

    assert reference.digest == DIGEST


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"https://robot:{PASSWORD}@registry-1.docker.io", id="https"),
        pytest.param(f"robot:{PASSWORD}@registry-1.docker.io", id="no-scheme"),
        pytest.param(f"https://robot:a/{PASSWORD}@h:5000", id="slash-in-password"),
    ],
)
def test_settings_url_login_not_quoted(url: str) -> None:
    with pytest.raises(SettingsError) as raised:
        check_url("upstreams.docker.io.url", url, "https://registry-1.docker.io")

    assert PASSWORD not in str(raised.value)


async def test_status_rejects_mirror_login() -> None:
    settings = load_settings(None, {"upstreams": "docker.io"})

    with pytest.raises(UsageError) as raised:
        await collect_status(
            settings, mirror_urls={"docker.io": f"http://robot:{PASSWORD}@127.0.0.1:1"}
        )

    assert PASSWORD not in str(raised.value)
