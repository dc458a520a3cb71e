"""Tests of deploying mirrors with their gateway sidecar: image check and plans."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from main.cli.app import run
from main.deploy import Action, KubeObject, compute_plan, objects_from_manifests
from main.render import render_manifests
from main.settings import parse_settings
from main.stack.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = f"--settings={ROOT / 'registry-mirror.toml'}"
PUBLISHED = "--set=gateway.image=ghcr.io/example/registry-mirror-gateway:0.1.0"


def _kubeconfig(tmp_path: Path) -> str:
    """Write a kubeconfig whose API server port on 127.0.0.1 is closed."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
        "contexts: [{name: t, context: {cluster: c, user: u}}]\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{free_port()}'}}}}]\n"
        "users: [{name: u, user: {token: fake}}]\n",
        encoding="utf-8",
    )
    return f"--kubeconfig={path}"


def test_deploy_rejects_placeholder_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["deploy", SETTINGS, _kubeconfig(tmp_path)])

    err = capsys.readouterr().err
    assert code == 2
    assert "gateway.image is the placeholder" in err
    assert "dagger call build-gateway publish" in err
    assert err.count("\n") == 1


def test_dry_run_warns_about_placeholder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["deploy", SETTINGS, _kubeconfig(tmp_path), "--dry-run"])

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("warning: gateway.image is the placeholder")
    assert out[1].startswith("cluster not reachable")


def test_published_image_passes_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["deploy", SETTINGS, _kubeconfig(tmp_path), PUBLISHED])

    err = capsys.readouterr().err
    assert code == 1
    assert "cannot reach the cluster" in err


def _mirror_objects() -> list[KubeObject]:
    settings = parse_settings({}, {"upstreams": "docker.io"})
    return objects_from_manifests(render_manifests(settings))


def _as_served(body: Any) -> dict[str, Any]:
    """Return `body` with the defaults that the API server adds to a workload."""
    served: dict[str, Any] = copy.deepcopy(dict(body))
    pod = served["spec"]["template"]["spec"]
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        container["terminationMessagePath"] = "/dev/termination-log"
        container["terminationMessagePolicy"] = "File"
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if probe in container:
                defaults = {"timeoutSeconds": 1, "successThreshold": 1}
                container[probe] = defaults | container[probe]
                if "httpGet" in container[probe]:
                    container[probe]["httpGet"]["scheme"] = "HTTP"
    pod["restartPolicy"] = "Always"
    pod["dnsPolicy"] = "ClusterFirst"
    served["status"] = {"replicas": 1}
    return served


def _live(objects: list[KubeObject]) -> dict[Any, Any]:
    return {obj.key: _as_served(obj.body) for obj in objects if obj.rolls_out} | {
        obj.key: copy.deepcopy(dict(obj.body)) for obj in objects if not obj.rolls_out
    }


def test_second_deploy_with_sidecar_is_unchanged() -> None:
    rendered = _mirror_objects()

    plan = compute_plan(rendered, _live(rendered), [])

    assert plan.has_changes is False
    assert any(change.obj.rolls_out for change in plan.changes)


def test_new_gateway_image_updates_the_deployment() -> None:
    old = _mirror_objects()
    settings = parse_settings(
        {}, {"upstreams": "docker.io", "gateway.image": "ghcr.io/example/gw:0.2.0"}
    )
    rendered = objects_from_manifests(render_manifests(settings))

    plan = compute_plan(rendered, _live(old), [])

    updates = plan.with_action(Action.UPDATE)
    assert [change.key.kind for change in updates] == ["Deployment"]
    assert updates[0].fields == (
        ".spec.template.spec.initContainers[name=repair-storage].image",
        ".spec.template.spec.initContainers[name=gateway].image",
    )
