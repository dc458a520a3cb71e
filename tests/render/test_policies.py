"""Tests of the namespaces and NetworkPolicies around the engine and mirrors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from main.errors import SettingsError
from main.settings import Settings, parse_settings
from tests.render.rendered import home_settings, named, objects

ENGINE_PODS = {
    "app.kubernetes.io/name": "dagger-engine",
    "app.kubernetes.io/instance": "dagger-engine",
}


def _namespace_peer(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def test_engine_port_only_from_runners() -> None:
    policy = named(Settings(), "NetworkPolicy", "dagger-engine")

    spec = policy["spec"]

    assert policy["metadata"]["namespace"] == "dagger"
    assert spec["podSelector"] == {"matchLabels": ENGINE_PODS}
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["ingress"] == [
        {
            "from": [_namespace_peer("arc-runners")],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]


def test_engine_metrics_only_from_monitoring() -> None:
    policy = named(home_settings(), "NetworkPolicy", "dagger-engine")

    ingress = policy["spec"]["ingress"]

    assert ingress[0]["from"] == [_namespace_peer("github-runners")]
    assert ingress[1] == {
        "from": [_namespace_peer("monitoring")],
        "ports": [{"protocol": "TCP", "port": 9090}],
    }


def test_mirrors_only_from_engine_pods() -> None:
    policy = named(Settings(), "NetworkPolicy", "mirrors")

    spec = policy["spec"]

    assert policy["metadata"]["namespace"] == "registry-mirror"
    assert spec["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "distribution"}
    }
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [
        {
            "from": [
                {
                    **_namespace_peer("dagger"),
                    "podSelector": {"matchLabels": ENGINE_PODS},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 5000}],
        }
    ]


def test_policy_selects_every_mirror_pod() -> None:
    settings = Settings()
    policy = named(settings, "NetworkPolicy", "mirrors")

    selector = policy["spec"]["podSelector"]["matchLabels"]

    for deployment in objects(settings, "Deployment"):
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()


def test_engine_pods_match_mirror_ingress() -> None:
    settings = Settings()
    engine = named(settings, "StatefulSet", "dagger-engine")

    pod_labels = engine["spec"]["template"]["metadata"]["labels"]

    assert ENGINE_PODS.items() <= pod_labels.items()


def test_mirror_egress_only_dns_and_upstream_ports() -> None:
    settings = parse_settings(
        {}, {"upstreams.registry.lan:5443.url": "https://registry.lan:5443"}
    )

    egress = named(settings, "NetworkPolicy", "mirrors")["spec"]["egress"]

    assert egress == [
        {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {
            "ports": [
                {"protocol": "TCP", "port": 443},
                {"protocol": "TCP", "port": 5443},
            ]
        },
    ]


def test_mirror_metrics_open_to_monitoring_only() -> None:
    default_ingress = named(Settings(), "NetworkPolicy", "mirrors")["spec"]["ingress"]
    home_ingress = named(home_settings(), "NetworkPolicy", "mirrors")["spec"]["ingress"]

    assert len(default_ingress) == 1
    assert len(home_ingress) == 2
    assert home_ingress[1] == {
        "from": [_namespace_peer("monitoring")],
        "ports": [{"protocol": "TCP", "port": 5001}, {"protocol": "TCP", "port": 5002}],
    }


def test_engine_reaches_only_registry_port() -> None:
    ingress = named(home_settings(), "NetworkPolicy", "mirrors")["spec"]["ingress"]

    engine_rules = [rule for rule in ingress if "podSelector" in rule["from"][0]]

    assert len(engine_rules) == 1
    assert engine_rules[0]["ports"] == [{"protocol": "TCP", "port": 5000}]


def test_gateway_port_follows_settings() -> None:
    data = {"namespaces": {"monitoring": "prometheus"}, "gateway": {"port": 6002}}
    settings = parse_settings(data)

    ingress = named(settings, "NetworkPolicy", "mirrors")["spec"]["ingress"]

    assert ingress[1]["from"] == [_namespace_peer("prometheus")]
    assert {"protocol": "TCP", "port": 6002} in ingress[1]["ports"]


def test_namespaces_enforce_pod_security() -> None:
    namespaces = {
        doc["metadata"]["name"]: doc["metadata"]["labels"]
        for doc in objects(Settings(), "Namespace")
    }

    level = "pod-security.kubernetes.io/enforce"
    assert sorted(namespaces) == ["dagger", "registry-mirror"]
    assert namespaces["registry-mirror"][level] == "restricted"
    assert namespaces["dagger"][level] == "privileged"


@pytest.mark.parametrize(
    ("namespaces", "message"),
    [
        pytest.param(
            {"mirrors": "ci", "engine": "ci"},
            "namespaces.mirrors and namespaces.engine are both 'ci'",
            id="mirrors-with-engine",
        ),
        pytest.param(
            {"engine": "arc-runners"},
            "namespaces.engine and namespaces.runners are both 'arc-runners'",
            id="engine-with-runners",
        ),
        pytest.param(
            {"engine": "default"},
            "namespaces.engine 'default' is shared with other workloads",
            id="default",
        ),
        pytest.param(
            {"mirrors": "kube-system"},
            "namespaces.mirrors 'kube-system' is shared",
            id="kube-system",
        ),
    ],
)
def test_shared_namespaces_rejected(namespaces: dict[str, str], message: str) -> None:
    # The mirrors would lose the restricted Pod Security level, or the engine's
    # NetworkPolicy could no longer tell runners from other pods.
    with pytest.raises(SettingsError, match=re.escape(message)):
        parse_settings({"namespaces": namespaces})


def test_runners_namespace_not_rendered() -> None:
    names = [doc["metadata"]["name"] for doc in objects(home_settings(), "Namespace")]

    assert "github-runners" not in names
