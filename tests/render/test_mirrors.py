"""Tests of the mirror objects: proxy config, rollout, probes, security, logins."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from main.render import render_manifests
from main.settings import Settings, parse_settings
from tests.render.rendered import container, home_settings, named, objects

SENTINEL = "s3cr3t-value-that-must-not-leak"


def _proxy_configs(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: yaml.safe_load(doc["data"]["config.yml"])
        for doc in objects(settings, "ConfigMap")
        if doc["metadata"]["name"].startswith("mirror-")
    }


def _mirror(settings: Settings, name: str = "mirror-docker-io") -> dict[str, Any]:
    return named(settings, "Deployment", name)


def test_every_mirror_pulls_through_its_gateway() -> None:
    for name, config in _proxy_configs(Settings()).items():
        assert config["proxy"]["remoteurl"] == "http://127.0.0.1:5002", name


def test_each_gateway_proxies_its_own_upstream() -> None:
    settings = Settings()

    upstreams = {
        deployment["metadata"]["name"]: _gateway_arguments(deployment)["--upstream"]
        for deployment in objects(settings, "Deployment")
    }

    assert upstreams == {
        "mirror-docker-io": "https://registry-1.docker.io",
        "mirror-ghcr-io": "https://ghcr.io",
        "mirror-quay-io": "https://quay.io",
        "mirror-registry-k8s-io": "https://registry.k8s.io",
    }


def _gateway_arguments(deployment: dict[str, Any]) -> dict[str, str]:
    init_containers = deployment["spec"]["template"]["spec"]["initContainers"]
    (sidecar,) = [item for item in init_containers if item["name"] == "gateway"]
    arguments: dict[str, str] = {}
    for argument in sidecar["args"]:
        name, _, value = argument.partition("=")
        arguments[name] = value
    return arguments


def test_every_proxy_config_enables_delete() -> None:
    for name, config in _proxy_configs(Settings()).items():
        assert config["storage"]["delete"] == {"enabled": True}, name


def test_ttl_rendered_for_distribution_three() -> None:
    settings = parse_settings({"mirror": {"ttl": "72h"}})

    for name, config in _proxy_configs(settings).items():
        assert config["proxy"]["ttl"] == "72h", name


def test_proxy_config_has_no_blob_descriptor_cache() -> None:
    for name, config in _proxy_configs(Settings()).items():
        assert "cache" not in config["storage"], name


def test_proxy_config_rejects_client_writes() -> None:
    for name, config in _proxy_configs(Settings()).items():
        assert config["storage"]["maintenance"] == {"readonly": {"enabled": True}}, name


def test_proxy_config_has_no_client_auth() -> None:
    for name, config in _proxy_configs(Settings()).items():
        assert "auth" not in config, name


def test_mirror_image_is_registry_three_by_digest() -> None:
    image = container(_mirror(Settings()))["image"]

    assert image.startswith("docker.io/library/registry:3.")
    assert "@sha256:" in image


def test_rollout_stops_old_pod_first() -> None:
    deployment = _mirror(Settings())

    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert deployment["spec"]["replicas"] == 1


def test_probes_answer_without_auth() -> None:
    mirror = container(_mirror(Settings()))

    ports = {port["name"]: port["containerPort"] for port in mirror["ports"]}

    for probe in ("readinessProbe", "livenessProbe"):
        assert mirror[probe]["httpGet"] == {"path": "/debug/health", "port": "debug"}
        assert not mirror[probe]["httpGet"]["path"].startswith("/v2")
    assert ports == {"registry": 5000, "debug": 5001}


def test_debug_address_matches_probe_port() -> None:
    configs = _proxy_configs(Settings())

    assert configs["mirror-docker-io"]["http"]["debug"]["addr"] == ":5001"
    assert configs["mirror-docker-io"]["http"]["addr"] == ":5000"


def test_mirror_pod_is_locked_down() -> None:
    pod = _mirror(Settings())["spec"]["template"]["spec"]
    security = container(_mirror(Settings()))["securityContext"]

    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "privileged" not in security


def test_mirror_has_requests_and_limits() -> None:
    resources = container(_mirror(Settings()))["resources"]

    assert resources["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert resources["limits"] == {"cpu": "1", "memory": "512Mi"}


def test_pod_annotations_scrape_the_gateway() -> None:
    template = _mirror(Settings())["spec"]["template"]

    annotations = template["metadata"]["annotations"]

    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "5002"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_service_annotations_scrape_distribution() -> None:
    service = named(Settings(), "Service", "mirror-docker-io")

    annotations = service["metadata"]["annotations"]

    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "5001",
        "prometheus.io/path": "/metrics",
    }


def test_kubectl_defaults_to_distribution_container() -> None:
    template = _mirror(Settings())["spec"]["template"]

    annotation = template["metadata"]["annotations"][
        "kubectl.kubernetes.io/default-container"
    ]

    assert annotation == container(_mirror(Settings()))["name"]


def test_mirror_service_selects_its_pods() -> None:
    settings = Settings()
    service = named(settings, "Service", "mirror-quay-io")
    deployment = _mirror(settings, "mirror-quay-io")

    selector = service["spec"]["selector"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    assert selector.items() <= pod_labels.items()
    assert selector == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == 5000


def test_claim_uses_storage_class() -> None:
    settings = parse_settings({"storage": {"storage_class": "longhorn"}})

    claim = named(settings, "PersistentVolumeClaim", "mirror-ghcr-io")

    assert claim["spec"]["storageClassName"] == "longhorn"
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert objects(settings, "PersistentVolume") == []


def test_claim_without_class_uses_cluster_default() -> None:
    claim = named(Settings(), "PersistentVolumeClaim", "mirror-ghcr-io")

    assert "storageClassName" not in claim["spec"]


def test_local_volume_pinned_to_node() -> None:
    settings = home_settings()

    volume = named(settings, "PersistentVolume", "mirrors-mirror-docker-io")
    claim = named(settings, "PersistentVolumeClaim", "mirror-docker-io")

    term = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0]["values"] == ["nas-1"]
    assert volume["spec"]["local"] == {"path": "/srv/registry-mirror/mirror-docker-io"}
    assert volume["spec"]["capacity"] == {"storage": "80Gi"}
    assert volume["spec"]["claimRef"] == {
        "namespace": "mirrors",
        "name": "mirror-docker-io",
    }
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert claim["spec"]["volumeName"] == "mirrors-mirror-docker-io"
    assert claim["spec"]["storageClassName"] == ""


def test_local_volumes_get_separate_directories() -> None:
    volumes = objects(home_settings(), "PersistentVolume")

    paths = [volume["spec"]["local"]["path"] for volume in volumes]

    assert sorted(paths) == [
        "/srv/registry-mirror/dagger-engine",
        "/srv/registry-mirror/mirror-docker-io",
        "/srv/registry-mirror/mirror-ghcr-io",
    ]


def test_distribution_gets_no_login() -> None:
    for name in ("mirror-docker-io", "mirror-ghcr-io"):
        mirror = container(_mirror(home_settings(), name))

        assert "env" not in mirror, name


@pytest.mark.parametrize(
    "variable",
    [
        "REGISTRY_MIRROR_UPSTREAM_PASSWORD",
        "REGISTRY_PROXY_PASSWORD",
        "DOCKERHUB_TOKEN",
    ],
)
def test_no_rendered_file_contains_login(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, SENTINEL)
    settings = home_settings()

    files = render_manifests(settings)

    for name, text in files.items():
        assert SENTINEL not in text, name
    for config in _proxy_configs(settings).values():
        assert "username" not in config["proxy"]
        assert "password" not in config["proxy"]
    assert objects(settings, "Secret") == []
