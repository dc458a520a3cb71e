"""Gateway settings and upstream credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from main.errors import SettingsError
from main.gateway.config import (
    CREDENTIALS_FILE_ENV,
    PASSWORD_ENV,
    USERNAME_ENV,
    Credentials,
    GatewayConfig,
    load_credentials,
)


def test_credentials_from_environment() -> None:
    env = {USERNAME_ENV: "robot", PASSWORD_ENV: "s3cret"}

    assert load_credentials(env) == Credentials("robot", "s3cret")


def test_no_credentials_means_anonymous() -> None:
    assert load_credentials({}) is None


def test_half_credentials_rejected() -> None:
    with pytest.raises(SettingsError) as caught:
        load_credentials({USERNAME_ENV: "robot"})

    assert PASSWORD_ENV in str(caught.value)


def test_credentials_from_file(tmp_path: Path) -> None:
    path = tmp_path / "upstream"
    path.write_text("robot:pa:ss\n")

    credentials = load_credentials({CREDENTIALS_FILE_ENV: str(path)})

    assert credentials == Credentials("robot", "pa:ss")


def test_bad_credentials_file_hides_content(tmp_path: Path) -> None:
    path = tmp_path / "upstream"
    path.write_text("only-a-secret-token\n")

    with pytest.raises(SettingsError) as caught:
        load_credentials(file=path)

    assert "USERNAME:PASSWORD" in str(caught.value)
    assert "only-a-secret-token" not in str(caught.value)


def test_password_not_in_repr() -> None:
    assert "s3cret" not in repr(Credentials("robot", "s3cret"))


def test_nonpositive_timeout_rejected() -> None:
    with pytest.raises(SettingsError) as caught:
        GatewayConfig("https://registry.example", read_timeout=0)

    assert "read_timeout" in str(caught.value)
