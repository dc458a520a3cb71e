"""Tests of the settings file: defaults, overrides and one-line errors."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from main.errors import SettingsError
from main.settings import (
    DEFAULT_SETTINGS_FILE,
    ENGINE_VERSION,
    GATEWAY_IMAGE_PLACEHOLDER,
    Credentials,
    LocalVolume,
    Settings,
    load_settings,
    parse_settings,
)

ROOT = Path(__file__).parent.parent
DOCKER_MIRROR = "mirror-docker-io.registry-mirror.svc.cluster.local:5000"


def _error(data: dict[str, Any], overrides: dict[str, object] | None = None) -> str:
    with pytest.raises(SettingsError) as caught:
        parse_settings(data, overrides)
    return str(caught.value)


def test_empty_settings_give_defaults() -> None:
    settings = parse_settings({})

    assert settings == Settings()
    assert [u.registry for u in settings.upstreams] == [
        "docker.io",
        "ghcr.io",
        "quay.io",
        "registry.k8s.io",
    ]
    assert settings.upstreams[0].url == "https://registry-1.docker.io"
    assert settings.storage.size == "50Gi"


def test_repository_file_states_the_defaults() -> None:
    settings = load_settings(ROOT / DEFAULT_SETTINGS_FILE)

    assert settings == Settings()


def test_engine_version_matches_every_pin() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dagger_json = ROOT / "dagger.json"

    pins = [
        d for d in pyproject["project"]["dependencies"] if d.startswith("dagger-io")
    ]

    assert pins == [f"dagger-io=={ENGINE_VERSION}"]
    assert Settings().engine.image == f"registry.dagger.io/engine:v{ENGINE_VERSION}"
    if dagger_json.exists():
        module = json.loads(dagger_json.read_text(encoding="utf-8"))
        assert module["engineVersion"] == f"v{ENGINE_VERSION}"


def test_load_reports_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"not found; create it"):
        load_settings(tmp_path / "absent.toml")


def test_load_reports_invalid_toml_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[storage]\nsize = 50Gi\n", encoding="utf-8")

    with pytest.raises(SettingsError) as caught:
        load_settings(path)

    assert "is not valid TOML" in str(caught.value)
    assert "line 2" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_reads_values_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[storage]\nsize = "80Gi"\n', encoding="utf-8")

    settings = load_settings(path, {"mirror.port": "5050"})

    assert settings.storage.size == "80Gi"
    assert settings.mirror.port == 5050


# Each case: settings data, overrides, the exact one-line message.
BAD_SETTINGS = [
    pytest.param(
        {"upstreams": {"ghcr.io": {"mirror": "http://m:5000"}}},
        None,
        "mirror host 'http://m:5000' must be host[:port]; use 'm:5000'",
        id="scheme-in-mirror-host",
    ),
    pytest.param(
        {"upstreams": {"ghcr.io": {"mirror": "m:5000/v2/"}}},
        None,
        "mirror host 'm:5000/v2/' must be host[:port]; use 'm:5000'",
        id="path-in-mirror-host",
    ),
    pytest.param(
        {"upstreams": {"ghcr.io": {"url": "https://registry-1.docker.io"}}},
        None,
        "upstreams.ghcr.io.url 'https://registry-1.docker.io' is the docker.io"
        " registry, so this mirror would proxy docker.io, not ghcr.io;"
        " use 'https://ghcr.io'",
        id="ghcr-url-to-docker-hub",
    ),
    pytest.param(
        {"upstreams": {"docker.io": {}, "ghcr.io": {"mirror": DOCKER_MIRROR}}},
        None,
        f"mirror host '{DOCKER_MIRROR}' of upstreams.ghcr.io is the mirror of"
        " docker.io, and one mirror proxies exactly one upstream;"
        " use 'mirror-ghcr-io.registry-mirror.svc.cluster.local:5000'",
        id="ghcr-mapped-to-docker-hub-proxy",
    ),
    pytest.param(
        {"upstreams": {"docker.io": {"mirror": "ghcr.io"}, "ghcr.io": {}}},
        None,
        "mirror host 'ghcr.io' of upstreams.docker.io is an upstream registry, not"
        " a mirror; use 'mirror-docker-io.registry-mirror.svc.cluster.local:5000'",
        id="mirror-host-is-an-upstream",
    ),
    pytest.param(
        {"storage": {"size": "50GB"}},
        None,
        "storage.size '50GB' is not a Kubernetes quantity; use '50Gi'",
        id="size-in-gigabytes",
    ),
    pytest.param(
        {},
        {"storage.size": "50 gib"},
        "storage.size '50 gib' is not a Kubernetes quantity; use '50Gi'",
        id="size-with-space-and-lower-case",
    ),
    pytest.param(
        {"engine": {"cache_size": "-3Gi"}},
        None,
        "engine.cache_size '-3Gi' is not a Kubernetes quantity; use '100Gi'",
        id="negative-cache-size",
    ),
    pytest.param(
        {"upstreams": {"docker.io": {"uri": "https://registry-1.docker.io"}}},
        None,
        "unknown key 'upstreams.docker.io.uri'; use 'url'",
        id="unknown-upstream-key",
    ),
    pytest.param(
        {"storage": {"sise": "50Gi"}},
        None,
        "unknown key 'storage.sise'; use 'size'",
        id="unknown-storage-key",
    ),
    pytest.param(
        {"mirrors": {}},
        None,
        "unknown key 'mirrors'; use 'mirror'",
        id="unknown-top-level-key",
    ),
    pytest.param(
        {},
        {"upstreams": "docker.io,gcr.io"},
        "unknown upstream 'gcr.io'; use one of docker.io, ghcr.io, quay.io,"
        " registry.k8s.io",
        id="unknown-upstream-selected",
    ),
    pytest.param(
        {"upstreams": {"harbor.example.com": {}}},
        None,
        "upstreams.harbor.example.com.url is missing; use 'https://harbor.example.com'",
        id="unknown-registry-without-url",
    ),
    pytest.param(
        {"namespaces": {"mirrors": "Registry_Mirror"}},
        None,
        "namespaces.mirrors 'Registry_Mirror' is not a valid RFC 1123 label (lower"
        " case letters, digits and '-', at most 63 characters);"
        " use 'registry-mirror'",
        id="namespace-with-capitals",
    ),
    pytest.param(
        {"namespaces": {"engine": "x" * 64}},
        None,
        f"namespaces.engine '{'x' * 64}' is not a valid RFC 1123 label (lower"
        " case letters, digits and '-', at most 63 characters);"
        f" use '{'x' * 63}'",
        id="namespace-too-long",
    ),
    pytest.param(
        {"namespaces": {"runners": "-ci-"}},
        None,
        "namespaces.runners '-ci-' is not a valid RFC 1123 label (lower case"
        " letters, digits and '-', at most 63 characters); use 'ci'",
        id="namespace-with-edge-dashes",
    ),
    pytest.param(
        {"mirror": {"port": 70000}},
        None,
        "mirror.port 70000 is not a TCP port (1-65535); use 5000",
        id="port-too-high",
    ),
    pytest.param(
        {},
        {"engine.port": "http"},
        "engine.port 'http' is not a TCP port (1-65535); use 8080",
        id="port-not-a-number",
    ),
    pytest.param(
        {"mirror": {"port": True}},
        None,
        "mirror.port True is not a TCP port (1-65535); use 5000",
        id="port-boolean",
    ),
    pytest.param(
        {"mirror": {"debug_port": 5000}},
        None,
        "mirror.debug_port 5000 equals mirror.port; use 5001",
        id="debug-port-equals-port",
    ),
    pytest.param(
        {
            "upstreams": {
                "a.example": {"url": "https://x.example"},
                "b.example": {"url": "https://x.example"},
            }
        },
        None,
        "upstreams 'a.example' and 'b.example' both proxy 'https://x.example';"
        " remove 'b.example'",
        id="duplicate-upstream-url",
    ),
    pytest.param(
        {"upstreams": {"ghcr.io": {}, "GHCR.io": {}}},
        None,
        "upstreams 'ghcr.io' and 'GHCR.io' name one registry; keep 'ghcr.io'",
        id="duplicate-upstream-spelling",
    ),
    pytest.param(
        {"upstreams": {"index.docker.io": {}}},
        None,
        "upstreams key 'index.docker.io' is an alias; use 'docker.io'",
        id="docker-hub-alias",
    ),
    pytest.param(
        {"upstreams": {"https://ghcr.io": {}}},
        None,
        "upstream 'https://ghcr.io' must be host[:port]; use 'ghcr.io'",
        id="scheme-in-upstream-name",
    ),
    pytest.param(
        {"upstreams": {"docker.io": {"url": "registry-1.docker.io"}}},
        None,
        "upstreams.docker.io.url 'registry-1.docker.io' is not a registry URL"
        " https://host[:port]; use 'https://registry-1.docker.io'",
        id="url-without-scheme",
    ),
    pytest.param(
        {"upstreams": {"docker.io": {"url": "https://registry-1.docker.io:99999"}}},
        None,
        "upstreams.docker.io.url 'https://registry-1.docker.io:99999' is not a"
        " registry URL https://host[:port]; use 'https://registry-1.docker.io'",
        id="url-port-out-of-range",
    ),
    pytest.param(
        {"upstreams": {"ghcr.io": {"url": "https://ghcr.io/v2/"}}},
        None,
        "upstreams.ghcr.io.url 'https://ghcr.io/v2/' is not a registry URL"
        " https://host[:port]; use 'https://ghcr.io'",
        id="url-with-api-path",
    ),
    pytest.param(
        {"upstreams": {"ghcr.io": {"mirror": "["}}},
        None,
        "mirror host '[' must be host[:port]; use 'mirror:5000'",
        id="mirror-host-unparsable",
    ),
    pytest.param(
        {"upstreams": {"docker.io": {"url": "https://docker.io"}}},
        None,
        "upstreams.docker.io.url 'https://docker.io' serves no registry API;"
        " use 'https://registry-1.docker.io'",
        id="docker-hub-web-host",
    ),
    pytest.param(
        {"upstreams": {}},
        None,
        'upstreams is empty; add at least one, such as [upstreams."docker.io"]'
        ' url = "https://registry-1.docker.io"',
        id="no-upstreams",
    ),
    pytest.param(
        {"mirror": {"ttl": "7d"}},
        None,
        "mirror.ttl '7d' is not a Go duration; use '168h'",
        id="ttl-in-days",
    ),
    pytest.param(
        {"mirror": {"image": "registry:3"}},
        None,
        "mirror.image 'registry:3' must be pinned by digest (name@sha256:...);"
        " use 'docker.io/library/registry:3.1.1@sha256:"
        "1be55279f18a2fe1a74edf2664cac61c1bea305b7b4642dab412e7affdcb3e33'",
        id="image-not-pinned",
    ),
    pytest.param(
        {"engine": {"repository": "registry.dagger.io/engine:v0.19.0"}},
        None,
        "engine.repository 'registry.dagger.io/engine:v0.19.0' must be a"
        " repository without tag or digest, because the tag comes from the"
        " pinned engine version; use 'registry.dagger.io/engine'",
        id="engine-tag-outside-the-pin",
    ),
    pytest.param(
        {"storage": {"storage_class": "fast", "local": {"node": "n1", "path": "/srv"}}},
        None,
        "storage.storage_class and storage.local exclude each other; remove one",
        id="class-and-local-volume",
    ),
    pytest.param(
        {"storage": {"local": {"node": "n1"}}},
        None,
        "storage.local.path is missing; set the node and its directory",
        id="local-volume-without-path",
    ),
    pytest.param(
        {"storage": {"local": {"node": "n1", "path": "srv/cache"}}},
        None,
        "storage.local.path 'srv/cache' must be an absolute directory path;"
        " use '/srv/cache'",
        id="local-path-relative",
    ),
    pytest.param(
        {"storage": {"local": {"node": "Node 1", "path": "/srv"}}},
        None,
        "storage.local.node 'Node 1' is not a valid RFC 1123 subdomain; use 'node-1'",
        id="node-name-with-space",
    ),
    pytest.param(
        {"engine": {"resources": {"cpu_request": "two"}}},
        None,
        "engine.resources.cpu_request 'two' is not a CPU quantity such as '500m'"
        " or '2'; use '1'",
        id="cpu-as-word",
    ),
    pytest.param(
        {"upstreams": {"docker.io": {"credentials": {"username_key": "user"}}}},
        None,
        "upstreams.docker.io.credentials.secret is missing; use the name of the"
        " Secret with the login",
        id="credentials-without-secret",
    ),
    pytest.param(
        {"mirror": {"resources": {"memory_limit": 512}}},
        None,
        "mirror.resources.memory_limit must be a string, not int 512; use '512Mi'",
        id="memory-as-number",
    ),
    pytest.param(
        {"storage": {"size": 50}},
        None,
        "storage.size must be a string, not int 50; use '50Gi'",
        id="size-as-number",
    ),
    pytest.param(
        {"cluster_domain": "cluster.local."},
        None,
        "cluster_domain 'cluster.local.' is not a valid RFC 1123 subdomain;"
        " use 'cluster.local'",
        id="cluster-domain-trailing-dot",
    ),
    pytest.param(
        {},
        {"upstreams.docker.io.remote": "https://x.example"},
        "unknown override key 'upstreams.docker.io.remote'; use"
        " upstreams.<registry>.<credentials.password_key, credentials.secret,"
        " credentials.username_key, mirror, size, url>",
        id="unknown-upstream-override",
    ),
    pytest.param(
        {},
        {"storage.size.value": "1Gi"},
        "unknown override key 'storage.size.value'; use 'storage.size'",
        id="override-through-a-value",
    ),
    pytest.param(
        {"gateway": {"image": "ghcr.io/Example/registry-mirror-gateway"}},
        None,
        "gateway.image 'ghcr.io/Example/registry-mirror-gateway' is not an image"
        " reference with a tag or digest and a lower-case repository;"
        " use 'ghcr.io/example/registry-mirror-gateway:0.1.0'",
        id="gateway-image-upper-case-without-tag",
    ),
    pytest.param(
        {"gateway": {"port": 5001}},
        None,
        "gateway.port 5001 equals mirror.debug_port; use 5002",
        id="gateway-port-on-debug-port",
    ),
    pytest.param(
        {"mirror": {"debug_port": 5002}},
        None,
        "gateway.port 5002 equals mirror.debug_port; use 5003",
        id="debug-port-on-gateway-port",
    ),
    pytest.param(
        {"gateway": {"spool_size": "2 GB"}},
        None,
        "gateway.spool_size '2 GB' is not a Kubernetes quantity; use '2Gi'",
        id="gateway-spool-in-gigabytes",
    ),
    pytest.param(
        {"gateway": {"read_timeout": 0}},
        None,
        "gateway.read_timeout 0 is not a number of seconds above 0 and at most"
        " 3600; use 30",
        id="gateway-zero-timeout",
    ),
    pytest.param(
        {"gateway": {"username": "me"}},
        None,
        "gateway.username is not accepted: upstream logins are read from a"
        ' Kubernetes Secret; set credentials = { secret = "NAME" } instead',
        id="gateway-inline-login",
    ),
]


@pytest.mark.parametrize(("data", "overrides", "message"), BAD_SETTINGS)
def test_bad_setting_fails_with_corrected_value(
    data: dict[str, Any], overrides: dict[str, object] | None, message: str
) -> None:
    assert _error(data, overrides) == message


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            {"upstreams": {"docker.io": {"password": "hunter2-xyz"}}}, id="password"
        ),
        pytest.param(
            {"upstreams": {"docker.io": {"token": "hunter2-xyz"}}}, id="token"
        ),
        pytest.param(
            {"upstreams": {"docker.io": {"credentials": "hunter2-xyz"}}}, id="string"
        ),
        pytest.param(
            {
                "upstreams": {
                    "docker.io": {
                        "credentials": {"secret": "hub", "password": "hunter2-xyz"}
                    }
                }
            },
            id="inside-reference",
        ),
    ],
)
def test_inline_login_rejected_without_echo(data: dict[str, Any]) -> None:
    message = _error(data)

    assert "hunter2-xyz" not in message
    assert "Secret" in message


def test_override_changes_single_values() -> None:
    overrides = {
        "storage.size": "100Gi",
        "mirror.port": "5050",
        "namespaces.engine": "ci-engine",
        "upstreams.docker.io.size": "200Gi",
    }

    settings = parse_settings({}, overrides)

    assert settings.storage.size == "100Gi"
    assert settings.mirror.port == 5050
    assert settings.namespaces.engine == "ci-engine"
    assert settings.upstreams[0].size == "200Gi"
    assert settings.upstreams[1].size is None


def test_override_selects_upstreams() -> None:
    settings = parse_settings({}, {"upstreams": "ghcr.io, docker.io"})

    assert [u.registry for u in settings.upstreams] == ["docker.io", "ghcr.io"]


def test_override_adds_upstream_with_dots_and_port() -> None:
    url = "https://registry.example.com:8443"

    settings = parse_settings({}, {"upstreams.registry.example.com:8443.url": url})

    added = [u for u in settings.upstreams if u.registry == "registry.example.com:8443"]
    assert added[0].url == url
    assert added[0].slug == "registry-example-com-8443"


def test_override_sets_credentials_reference() -> None:
    overrides = {
        "upstreams.docker.io.credentials.secret": "hub-login",
        "upstreams.docker.io.credentials.password_key": "token",
    }

    settings = parse_settings({}, overrides)

    assert settings.upstreams[0].credentials == Credentials(
        "hub-login", "username", "token"
    )


def test_override_none_restores_default() -> None:
    settings = parse_settings({"storage": {"size": "10Gi"}}, {"storage.size": None})

    assert settings.storage.size == "50Gi"


def test_gateway_placeholder_is_the_default() -> None:
    settings = parse_settings({"gateway": {"image": GATEWAY_IMAGE_PLACEHOLDER}})

    assert settings.gateway.image == GATEWAY_IMAGE_PLACEHOLDER
    assert settings.gateway == Settings().gateway


def test_gateway_values_read_from_table() -> None:
    data = {
        "gateway": {
            "image": "registry.lan:5443/ci/registry-mirror-gateway@sha256:" + "a" * 64,
            "port": 6002,
            "connect_timeout": 2.5,
            "resources": {"memory_limit": "1Gi"},
        }
    }

    gateway = parse_settings(data).gateway

    assert gateway.image.startswith("registry.lan:5443/ci/")
    assert gateway.port == 6002
    assert gateway.connect_timeout == 2.5
    assert gateway.read_timeout == 30.0
    assert gateway.resources.memory_limit == "1Gi"


def test_local_volume_parsed() -> None:
    data = {"storage": {"local": {"node": "node-1", "path": "/srv/registry-mirror/"}}}

    settings = parse_settings(data)

    assert settings.storage.local == LocalVolume("node-1", "/srv/registry-mirror")
    assert settings.storage.storage_class is None


def test_mirror_address_defaults_to_service() -> None:
    settings = parse_settings({"cluster_domain": "home.arpa"})

    address = settings.mirror_address(settings.upstreams[1])

    assert address == "mirror-ghcr-io.registry-mirror.svc.home.arpa:5000"


def test_mirror_address_override_kept() -> None:
    data = {"upstreams": {"docker.io": {"mirror": "10.0.0.5:30500"}}}

    settings = parse_settings(data)

    assert settings.mirror_address(settings.upstreams[0]) == "10.0.0.5:30500"


def test_every_error_is_one_line() -> None:
    for case in BAD_SETTINGS:
        data, overrides, _ = case.values

        message = _error(data, overrides)

        assert "\n" not in message, case.id
        assert re.search(r"use|remove|keep|set|add", message), case.id


# Keys whose values come from users as free text, each tried with any string.
FREE_TEXT_KEYS = [
    "storage.size",
    "storage.storage_class",
    "namespaces.mirrors",
    "mirror.ttl",
    "mirror.port",
    "mirror.image",
    "gateway.image",
    "gateway.read_timeout",
    "gateway.spool_size",
    "engine.repository",
    "engine.resources.cpu_request",
    "engine.resources.memory_limit",
    "upstreams.docker.io.url",
    "upstreams.docker.io.mirror",
    "upstreams.ghcr.io.credentials.secret",
    "storage.local.path",
]


@given(key=st.sampled_from(FREE_TEXT_KEYS), value=st.text(max_size=40))
def test_any_text_value_validates_or_fails_cleanly(key: str, value: str) -> None:
    overrides: dict[str, object] = {key: value}
    if key == "storage.local.path":
        overrides["storage.local.node"] = "node-1"

    message = ""
    try:
        parse_settings({}, overrides)
    except SettingsError as exc:
        message = str(exc) or "(empty message)"

    assert "\n" not in message
    assert message != "(empty message)"
