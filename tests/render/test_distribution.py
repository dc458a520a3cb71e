"""Tests for the distribution config renderer."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from main.errors import SettingsError
from main.render.distribution import (
    ProxyConfig,
    dump_distribution_config,
    normalize_remote_url,
    render_distribution_config,
)

HUB = "https://registry-1.docker.io"


def section(document: dict[str, object], *keys: str) -> Any:
    """Return the nested value at `keys`, or None when a key is missing."""
    value: Any = document
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def test_ttl_with_version_2_8_rejected() -> None:
    config = ProxyConfig(remote_url=HUB, target_version="2.8", ttl="168h")

    with pytest.raises(SettingsError, match="needs distribution 3") as caught:
        render_distribution_config(config)

    assert "'168h'" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_ttl_with_version_3_rendered() -> None:
    config = ProxyConfig(remote_url=HUB, target_version="3", ttl="72h")

    document = render_distribution_config(config)

    assert section(document, "proxy", "ttl") == "72h"


def test_ttl_zero_means_never_expire() -> None:
    document = render_distribution_config(ProxyConfig(remote_url=HUB, ttl="0"))

    assert section(document, "proxy", "ttl") == "0"


@pytest.mark.parametrize(
    "ttl",
    [
        pytest.param("7d", id="days-unit"),
        pytest.param("-1h", id="negative"),
        pytest.param("", id="empty"),
        pytest.param("168", id="no-unit"),
    ],
)
def test_ttl_invalid_duration_rejected(ttl: str) -> None:
    config = ProxyConfig(remote_url=HUB, ttl=ttl)

    with pytest.raises(SettingsError, match="Go duration"):
        render_distribution_config(config)


def test_ttl_without_proxy_rejected() -> None:
    config = ProxyConfig(remote_url=None, ttl="24h")

    with pytest.raises(SettingsError, match="only a proxy"):
        render_distribution_config(config)


@pytest.mark.parametrize(
    "version", [pytest.param("2.8", id="v2.8"), pytest.param("3", id="v3")]
)
def test_proxy_enables_storage_delete(version: Any) -> None:
    config = ProxyConfig(remote_url=HUB, target_version=version)

    document = render_distribution_config(config)

    assert section(document, "storage", "delete", "enabled") is True


def test_proxy_has_no_blob_descriptor_cache() -> None:
    document = render_distribution_config(ProxyConfig(remote_url=HUB))

    assert section(document, "storage", "cache") is None


def test_proxy_with_inmemory_cache_rejected() -> None:
    config = ProxyConfig(remote_url=HUB, blob_descriptor_cache="inmemory")

    with pytest.raises(SettingsError, match="invalid for a proxy"):
        render_distribution_config(config)


def test_plain_registry_allows_inmemory_cache() -> None:
    config = ProxyConfig(remote_url=None, blob_descriptor_cache="inmemory")

    document = render_distribution_config(config)

    assert section(document, "storage", "cache", "blobdescriptor") == "inmemory"
    assert section(document, "proxy") is None


def test_proxy_config_holds_no_credentials() -> None:
    text = dump_distribution_config(ProxyConfig(remote_url=HUB))

    assert "username" not in text
    assert "password" not in text


def test_health_endpoint_configured() -> None:
    document = render_distribution_config(ProxyConfig(remote_url=HUB))

    assert section(document, "http", "debug", "addr") == ":5001"
    assert section(document, "health", "storagedriver", "enabled") is True


def test_prometheus_rendered_when_enabled() -> None:
    config = ProxyConfig(remote_url=HUB, target_version="2.8", prometheus=True)

    document = render_distribution_config(config)

    assert section(document, "http", "debug", "prometheus", "enabled") is True


def test_prometheus_without_debug_address_rejected() -> None:
    config = ProxyConfig(remote_url=HUB, debug_address=None, prometheus=True)

    with pytest.raises(SettingsError, match="debug address"):
        render_distribution_config(config)


def test_read_only_sets_maintenance_flag() -> None:
    document = render_distribution_config(ProxyConfig(remote_url=None, read_only=True))

    assert section(document, "storage", "maintenance", "readonly", "enabled") is True


def test_dump_is_deterministic_yaml() -> None:
    config = ProxyConfig(remote_url=HUB, ttl="24h", listen_address="127.0.0.1:5000")

    first = dump_distribution_config(config)
    second = dump_distribution_config(ProxyConfig(**vars(config)))

    assert first == second
    assert yaml.safe_load(first) == render_distribution_config(config)
    assert first.startswith("version:")


def test_dump_of_default_proxy_config() -> None:
    text = dump_distribution_config(ProxyConfig(remote_url=HUB))

    assert text == (
        "version: '0.1'\n"
        "log:\n"
        "  level: info\n"
        "  formatter: text\n"
        "storage:\n"
        "  filesystem:\n"
        "    rootdirectory: /var/lib/registry\n"
        "  delete:\n"
        "    enabled: true\n"
        "http:\n"
        "  addr: :5000\n"
        "  headers:\n"
        "    X-Content-Type-Options:\n"
        "    - nosniff\n"
        "  debug:\n"
        "    addr: :5001\n"
        "health:\n"
        "  storagedriver:\n"
        "    enabled: true\n"
        "    interval: 10s\n"
        "    threshold: 3\n"
        "proxy:\n"
        "  remoteurl: https://registry-1.docker.io\n"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(HUB, HUB, id="plain"),
        pytest.param(f"{HUB}/", HUB, id="trailing-slash"),
        pytest.param("http://127.0.0.1:5000", "http://127.0.0.1:5000", id="port"),
    ],
)
def test_remote_url_normalized(url: str, expected: str) -> None:
    assert normalize_remote_url(url) == expected


@pytest.mark.parametrize(
    ("url", "corrected"),
    [
        pytest.param(f"{HUB}/v2/", f"'{HUB}'", id="path"),
        pytest.param(f"{HUB}?ns=docker.io", f"'{HUB}'", id="query"),
        pytest.param("registry-1.docker.io", f"'{HUB}'", id="no-scheme"),
        pytest.param("ftp://registry-1.docker.io", f"'{HUB}'", id="ftp"),
        pytest.param("https://", "https://HOST[:PORT]", id="no-host"),
        pytest.param(
            "https://me:secret@registry-1.docker.io",
            f"'{HUB}'",
            id="credentials",
        ),
    ],
)
def test_remote_url_invalid_shows_correction(url: str, corrected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        normalize_remote_url(url)

    assert corrected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_remote_url_error_hides_password() -> None:
    with pytest.raises(SettingsError) as caught:
        normalize_remote_url("https://me:secret@registry-1.docker.io")

    assert "secret" not in str(caught.value)
    assert "REGISTRY_PROXY_PASSWORD" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("listen_address", "5000", "listen address", id="no-colon"),
        pytest.param("listen_address", ":70000", "listen address", id="big-port"),
        pytest.param("debug_address", "localhost", "debug address", id="debug"),
        pytest.param("log_level", "verbose", "log level", id="log-level"),
        pytest.param("storage_root", "relative/dir", "storage root", id="relative"),
        pytest.param("target_version", "2.7", "distribution version", id="v2.7"),
    ],
)
def test_invalid_setting_rejected(field: str, value: str, message: str) -> None:
    config = ProxyConfig(remote_url=HUB, **{field: value})  # type: ignore[arg-type]

    with pytest.raises(SettingsError, match=message):
        render_distribution_config(config)
