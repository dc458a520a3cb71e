"""Tests of the gateway sidecar in each mirror pod: order, probes, login, volumes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import typer

import main.cli.gateway  # noqa: F401 (registers the command on the app)
from main.cli.app import app
from main.gateway import GatewayConfig, GatewayServer, run_gateway
from main.gateway.app import HEALTH_PATH, METRICS_PATH
from main.gateway.config import PASSWORD_ENV, USERNAME_ENV
from main.render.gateway import (
    GATEWAY_HEALTH_PATH,
    GATEWAY_METRICS_PATH,
    PASSWORD_VARIABLE,
    USERNAME_VARIABLE,
)
from main.settings import Settings, parse_settings
from main.stack.ports import free_port
from tests.render.rendered import container, home_settings, named, objects


def _pod(settings: Settings, name: str = "mirror-docker-io") -> dict[str, Any]:
    deployment = named(settings, "Deployment", name)
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def _sidecar(settings: Settings, name: str = "mirror-docker-io") -> dict[str, Any]:
    init_containers = _pod(settings, name)["initContainers"]
    names = [container["name"] for container in init_containers]
    assert names == ["repair-storage", "gateway"]
    return dict(init_containers[1])


def _arguments(sidecar: dict[str, Any]) -> dict[str, str]:
    arguments: dict[str, str] = {}
    for argument in sidecar["args"]:
        name, _, value = argument.partition("=")
        arguments[name] = value
    return arguments


def test_gateway_is_native_sidecar() -> None:
    sidecar = _sidecar(Settings())

    assert sidecar["name"] == "gateway"
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["ports"] == [
        {"name": "gateway", "containerPort": 5002, "protocol": "TCP"}
    ]


def test_startup_probe_gates_distribution() -> None:
    probe = _sidecar(Settings())["startupProbe"]

    assert probe["httpGet"] == {"path": "/healthz", "port": "gateway"}
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 30


@pytest.mark.parametrize("probe", ["startupProbe", "readinessProbe", "livenessProbe"])
def test_gateway_probes_use_healthz(probe: str) -> None:
    sidecar = _sidecar(Settings())

    assert sidecar[probe]["httpGet"] == {"path": "/healthz", "port": "gateway"}


def test_gateway_arguments_follow_settings() -> None:
    overrides = {"gateway.read_timeout": "90", "gateway.tag_deadline": "0.5"}
    settings = parse_settings({}, overrides)

    arguments = _arguments(_sidecar(settings, "mirror-quay-io"))

    assert arguments == {
        "--upstream": "https://quay.io",
        "--listen": "0.0.0.0:5002",
        "--state-dir": "/var/lib/registry/gateway",
        "--spool-dir": "/var/cache/gateway",
        "--connect-timeout": "5",
        "--read-timeout": "90",
        "--tag-deadline": "0.5",
    }


def test_gateway_command_accepts_every_argument() -> None:
    command = typer.main.get_command(app)
    gateway = command.commands["gateway"]  # type: ignore[attr-defined]
    options = {opt for param in gateway.params for opt in param.opts}

    names = set(_arguments(_sidecar(Settings())))

    assert names <= options


def test_rendered_names_match_the_gateway() -> None:
    assert GATEWAY_HEALTH_PATH == HEALTH_PATH
    assert GATEWAY_METRICS_PATH == METRICS_PATH
    assert USERNAME_VARIABLE == USERNAME_ENV
    assert PASSWORD_VARIABLE == PASSWORD_ENV


def test_gateway_image_and_resources_from_settings() -> None:
    overrides = {
        "gateway.image": "ghcr.io/example/registry-mirror-gateway:0.1.0",
        "gateway.resources.memory_limit": "384Mi",
    }
    settings = parse_settings({}, overrides)

    sidecar = _sidecar(settings)

    assert sidecar["image"] == "ghcr.io/example/registry-mirror-gateway:0.1.0"
    assert sidecar["resources"] == {
        "requests": {"cpu": "50m", "memory": "96Mi"},
        "limits": {"cpu": "1", "memory": "384Mi"},
    }


def test_gateway_locked_down_like_distribution() -> None:
    settings = Settings()

    sidecar = _sidecar(settings)

    distribution = container(named(settings, "Deployment", "mirror-docker-io"))
    assert sidecar["securityContext"] == distribution["securityContext"]
    assert sidecar["securityContext"]["runAsNonRoot"] is True
    assert sidecar["securityContext"]["readOnlyRootFilesystem"] is True


def test_gateway_state_on_mirror_volume() -> None:
    pod = _pod(Settings())

    mounts = {
        m["mountPath"]: m["name"] for m in pod["initContainers"][1]["volumeMounts"]
    }
    volumes = {volume["name"]: volume for volume in pod["volumes"]}

    assert mounts["/var/lib/registry"] == "data"
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "mirror-docker-io"}


def test_gateway_spool_on_bounded_empty_dir() -> None:
    settings = parse_settings({}, {"gateway.spool_size": "4Gi"})
    pod = _pod(settings)

    mounts = {
        m["mountPath"]: m["name"] for m in pod["initContainers"][1]["volumeMounts"]
    }
    volumes = {volume["name"]: volume for volume in pod["volumes"]}

    spool = volumes[mounts["/var/cache/gateway"]]
    assert spool["emptyDir"] == {"sizeLimit": "4Gi"}


def test_login_only_on_gateway_from_secret() -> None:
    settings = home_settings()

    sidecar = _sidecar(settings)

    assert sidecar["env"] == [
        {
            "name": "REGISTRY_MIRROR_UPSTREAM_USERNAME",
            "valueFrom": {"secretKeyRef": {"name": "dockerhub-login", "key": "user"}},
        },
        {
            "name": "REGISTRY_MIRROR_UPSTREAM_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "dockerhub-login", "key": "token"}},
        },
    ]


def test_gateway_without_login_has_no_env() -> None:
    sidecar = _sidecar(home_settings(), "mirror-ghcr-io")

    assert "env" not in sidecar


def test_login_variables_only_on_gateway() -> None:
    settings = home_settings()
    workloads = [*objects(settings, "Deployment"), *objects(settings, "StatefulSet")]

    found = []
    for workload in workloads:
        spec = workload["spec"]["template"]["spec"]
        for item in [*spec.get("initContainers", []), *spec["containers"]]:
            for variable in item.get("env", []):
                if re.search("USER|PASSWORD|TOKEN|AUTH", variable["name"]):
                    found.append((item["name"], variable))

    assert len(found) == 2
    for container_name, variable in found:
        assert container_name == "gateway", variable["name"]
        assert "value" not in variable, variable["name"]
        assert "secretKeyRef" in variable["valueFrom"], variable["name"]


@pytest.fixture
async def gateway_with_closed_upstream() -> AsyncIterator[GatewayServer]:
    """Run a real gateway whose upstream refuses every connection."""
    config = GatewayConfig(
        f"http://127.0.0.1:{free_port()}",
        connect_timeout=1.0,
        read_timeout=1.0,
        use_env_proxy=False,
    )
    async with run_gateway(config) as server:
        yield server


@pytest.mark.anyio
@pytest.mark.parametrize("probe", ["startupProbe", "readinessProbe", "livenessProbe"])
async def test_probe_answers_without_auth_while_upstream_down(
    gateway_with_closed_upstream: GatewayServer, probe: str
) -> None:
    path = _sidecar(home_settings())[probe]["httpGet"]["path"]

    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
        response = await client.get(f"{gateway_with_closed_upstream.url}{path}")

    assert response.status_code == 200


def test_storage_is_repaired_before_the_gateway_starts() -> None:
    repair = _pod(Settings())["initContainers"][0]

    assert repair["name"] == "repair-storage"
    assert repair["command"] == [
        "registry-mirror",
        "repair-storage",
        "/var/lib/registry",
    ]
    # A regular init container: it must finish before the sidecar starts.
    assert "restartPolicy" not in repair
    assert repair["securityContext"]["readOnlyRootFilesystem"] is True
    assert repair["volumeMounts"] == [
        {"name": "data", "mountPath": "/var/lib/registry"}
    ]
