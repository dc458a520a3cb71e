"""Tests of the engine's config and of the engine's Kubernetes objects."""

from __future__ import annotations

import json

import pytest

from main.render.engine import ENGINE_CONFIG_PATH, render_engine_config
from main.settings import ENGINE_VERSION, Settings, parse_settings
from tests.render.rendered import container, home_settings, named

# Keys that Dagger's engine accepts (engine/config/config.go at v0.21.8); it
# refuses to start on any other key.
ENGINE_KEYS = {"logLevel", "gc", "security", "registries"}
REGISTRY_KEYS = {"mirrors", "http", "insecure", "ca"}


def _engine_json(settings: Settings) -> dict[str, object]:
    config_map = named(settings, "ConfigMap", "dagger-engine")
    parsed: dict[str, object] = json.loads(config_map["data"]["engine.json"])
    return parsed


def test_engine_config_has_only_known_keys() -> None:
    config = render_engine_config(Settings())

    assert set(config) <= ENGINE_KEYS
    for host, entry in config["registries"].items():
        assert set(entry) <= REGISTRY_KEYS, host


def test_engine_config_has_one_mirror_per_upstream() -> None:
    settings = Settings()

    registries = render_engine_config(settings)["registries"]

    for upstream in settings.upstreams:
        assert registries[upstream.registry] == {
            "mirrors": [settings.mirror_address(upstream)]
        }


def test_engine_mirrors_are_bare_host_port() -> None:
    registries = render_engine_config(Settings())["registries"]

    mirrors = [m for entry in registries.values() for m in entry.get("mirrors", [])]

    assert len(mirrors) == 4
    for mirror in mirrors:
        assert "://" not in mirror
        assert "/" not in mirror
        assert mirror.endswith(":5000")


def test_plain_http_only_on_mirror_entries() -> None:
    settings = Settings()

    registries = render_engine_config(settings)["registries"]

    for upstream in settings.upstreams:
        assert "http" not in registries[upstream.registry], upstream.registry
        assert registries[settings.mirror_address(upstream)] == {"http": True}


def test_each_registry_gets_its_own_mirror() -> None:
    settings = Settings()

    registries = render_engine_config(settings)["registries"]

    mirrors = [registries[u.registry]["mirrors"][0] for u in settings.upstreams]
    assert len(set(mirrors)) == len(mirrors)
    assert registries["ghcr.io"]["mirrors"] == [
        "mirror-ghcr-io.registry-mirror.svc.cluster.local:5000"
    ]


def test_mirror_override_used_by_engine() -> None:
    settings = parse_settings({}, {"upstreams.quay.io.mirror": "192.168.1.20:30500"})

    registries = render_engine_config(settings)["registries"]

    assert registries["quay.io"] == {"mirrors": ["192.168.1.20:30500"]}
    assert registries["192.168.1.20:30500"] == {"http": True}


def test_engine_config_map_holds_rendered_json() -> None:
    settings = Settings()

    assert _engine_json(settings) == render_engine_config(settings)


def test_engine_reads_config_at_its_own_path() -> None:
    engine = container(named(Settings(), "StatefulSet", "dagger-engine"))

    mounts = {mount["mountPath"]: mount for mount in engine["volumeMounts"]}

    assert ENGINE_CONFIG_PATH == "/etc/dagger/engine.json"
    assert mounts[ENGINE_CONFIG_PATH]["subPath"] == "engine.json"
    assert mounts[ENGINE_CONFIG_PATH]["name"] == "config"
    assert "/etc/buildkit" not in mounts
    assert mounts["/var/lib/dagger"]["name"] == "data"


def test_engine_runs_pinned_image_privileged() -> None:
    engine = container(named(Settings(), "StatefulSet", "dagger-engine"))

    assert engine["image"] == f"registry.dagger.io/engine:v{ENGINE_VERSION}"
    assert engine["securityContext"] == {"privileged": True}


def test_engine_listens_on_service_port() -> None:
    settings = Settings()
    service = named(settings, "Service", "dagger-engine")
    engine = container(named(settings, "StatefulSet", "dagger-engine"))

    assert service["spec"]["ports"][0]["port"] == 8080
    assert service["spec"]["ports"][0]["targetPort"] == "dagger"
    assert engine["ports"][0] == {
        "name": "dagger",
        "containerPort": 8080,
        "protocol": "TCP",
    }
    assert "tcp://0.0.0.0:8080" in engine["args"]
    assert "unix:///run/dagger/engine.sock" in engine["args"]


def test_engine_probes_and_grace_period() -> None:
    stateful_set = named(Settings(), "StatefulSet", "dagger-engine")
    engine = container(stateful_set)
    pod = stateful_set["spec"]["template"]["spec"]

    command = ["dagger", "core", "version"]
    assert engine["readinessProbe"]["exec"]["command"] == command
    assert engine["livenessProbe"]["exec"]["command"] == command
    assert pod["terminationGracePeriodSeconds"] == 300
    assert pod["automountServiceAccountToken"] is False


def test_engine_restarts_when_config_changes() -> None:
    before = named(Settings(), "StatefulSet", "dagger-engine")
    after = named(
        parse_settings({}, {"upstreams": "docker.io"}), "StatefulSet", "dagger-engine"
    )

    key = "registry-mirror/config-sha256"
    before_hash = before["spec"]["template"]["metadata"]["annotations"][key]
    after_hash = after["spec"]["template"]["metadata"]["annotations"][key]

    assert before_hash != after_hash


@pytest.mark.parametrize(
    ("settings", "size"),
    [
        pytest.param(Settings(), "100Gi", id="defaults"),
        pytest.param(home_settings(), "200Gi", id="home"),
    ],
)
def test_engine_cache_claim_size(settings: Settings, size: str) -> None:
    claim = named(settings, "PersistentVolumeClaim", "dagger-engine")

    assert claim["spec"]["resources"]["requests"]["storage"] == size
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_engine_metrics_exposed_when_configured() -> None:
    stateful_set = named(home_settings(), "StatefulSet", "dagger-engine")
    engine = container(stateful_set)

    annotations = stateful_set["spec"]["template"]["metadata"]["annotations"]

    assert engine["env"] == [
        {"name": "_EXPERIMENTAL_DAGGER_METRICS_ADDR", "value": "0.0.0.0:9090"}
    ]
    assert annotations["prometheus.io/port"] == "9090"
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in engine[
        "ports"
    ]


def test_engine_metrics_off_by_default() -> None:
    stateful_set = named(Settings(), "StatefulSet", "dagger-engine")

    annotations = stateful_set["spec"]["template"]["metadata"]["annotations"]

    assert "env" not in container(stateful_set)
    assert "prometheus.io/scrape" not in annotations
