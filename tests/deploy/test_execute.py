"""Tests of the deploy steps: real kubectl without a cluster, and a kubectl stand-in."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from main.deploy import Action, Kubectl, run_deploy
from main.errors import ClusterError
from main.stack.ports import free_port
from tests.deploy.conftest import DATA

MANIFESTS = {"rendered.yaml": (DATA / "rendered.yaml").read_text(encoding="utf-8")}
LEFTOVER = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "mirror-ghcr-io",
        "namespace": "registry-mirror",
        "labels": {"app.kubernetes.io/managed-by": "registry-mirror"},
    },
}


def _kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
        "contexts: [{name: t, context: {cluster: c, user: u}}]\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: u, user: {token: fake}}]\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def fake_kubectl(tmp_path: Path) -> Kubectl:
    """A Kubectl whose binary is the stand-in, with its own empty state."""
    folder = tmp_path / "fake"
    folder.mkdir()
    script = folder / "kubectl"
    source = (Path(__file__).parent / "fake_kubectl.py").read_text(encoding="utf-8")
    script.write_text(f"#!{sys.executable}\n{source}", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return Kubectl(_kubeconfig(tmp_path, "https://127.0.0.1:6443"), binary=str(script))


def _calls(kubectl: Kubectl) -> list[list[str]]:
    log = Path(kubectl.binary).parent / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def _verbs(kubectl: Kubectl) -> list[str]:
    return [" ".join(call[:2]) for call in _calls(kubectl)]


@pytest.mark.anyio
async def test_dry_run_without_cluster_plans_everything(tmp_path: Path) -> None:
    server = f"https://127.0.0.1:{free_port()}"
    kubectl = Kubectl(_kubeconfig(tmp_path, server), timeout=20.0)
    lines: list[str] = []

    plan = await run_deploy(MANIFESTS, kubectl, dry_run=True, echo=lines.append)

    assert [change.action for change in plan.changes] == [Action.CREATE] * 5
    assert lines[0].startswith("cluster not reachable (kubectl get failed:")
    assert (
        lines[1] == "dry run against an empty cluster: the API server validated nothing"
    )


@pytest.mark.anyio
async def test_deploy_without_cluster_fails(tmp_path: Path) -> None:
    server = f"https://127.0.0.1:{free_port()}"
    kubectl = Kubectl(_kubeconfig(tmp_path, server), timeout=20.0)

    with pytest.raises(ClusterError, match="cannot reach the cluster"):
        await run_deploy(MANIFESTS, kubectl, dry_run=False, echo=print)


@pytest.mark.anyio
async def test_first_run_applies_then_waits(fake_kubectl: Kubectl) -> None:
    lines: list[str] = []

    plan = await run_deploy(MANIFESTS, fake_kubectl, dry_run=False, echo=lines.append)

    assert len(plan.to_apply) == 5
    assert _verbs(fake_kubectl) == [
        "get --raw=/readyz",
        "get --filename=-",
        "get namespace,networkpolicy,serviceaccount,configmap,persistentvolume,"
        "persistentvolumeclaim,service,daemonset,deployment,statefulset",
        "apply --server-side",
        "rollout status",
    ]
    assert lines[-1] == "rolled out Deployment.apps registry-mirror/mirror-docker-io"


@pytest.mark.anyio
async def test_apply_uses_field_manager_and_takes_over(fake_kubectl: Kubectl) -> None:
    await run_deploy(MANIFESTS, fake_kubectl, dry_run=False, echo=print)

    apply = next(call for call in _calls(fake_kubectl) if call[0] == "apply")
    assert "--field-manager=registry-mirror" in apply
    assert "--force-conflicts" in apply
    assert "--dry-run=server" not in apply


@pytest.mark.anyio
async def test_second_run_reports_no_changes(fake_kubectl: Kubectl) -> None:
    await run_deploy(MANIFESTS, fake_kubectl, dry_run=False, echo=print)
    lines: list[str] = []

    plan = await run_deploy(MANIFESTS, fake_kubectl, dry_run=False, echo=lines.append)

    assert not plan.has_changes
    assert lines[0] == "no changes: all 5 objects are up to date"
    assert _verbs(fake_kubectl).count("apply --server-side") == 1


@pytest.mark.anyio
async def test_dry_run_validates_on_server_and_changes_nothing(
    fake_kubectl: Kubectl,
) -> None:
    plan = await run_deploy(MANIFESTS, fake_kubectl, dry_run=True, echo=print)
    again = await run_deploy(MANIFESTS, fake_kubectl, dry_run=True, echo=print)

    apply_calls = [call for call in _calls(fake_kubectl) if call[0] == "apply"]
    assert len(plan.to_apply) == 5
    assert len(again.to_apply) == 5
    assert all("--dry-run=server" in call for call in apply_calls)
    assert "rollout status" not in _verbs(fake_kubectl)


@pytest.mark.anyio
async def test_leftover_is_pruned(fake_kubectl: Kubectl) -> None:
    state = Path(fake_kubectl.binary).parent / "state.json"
    state.write_text(json.dumps([LEFTOVER]))

    plan = await run_deploy(MANIFESTS, fake_kubectl, dry_run=False, echo=print)

    deletes = [call for call in _calls(fake_kubectl) if call[0] == "delete"]
    assert [str(obj.key) for obj in plan.to_prune] == [
        "ConfigMap registry-mirror/mirror-ghcr-io"
    ]
    assert deletes == [
        [
            "delete",
            "configmap/mirror-ghcr-io",
            "--ignore-not-found",
            "--wait=false",
            "--namespace=registry-mirror",
        ]
    ]


@pytest.mark.anyio
async def test_failed_rollout_names_the_workload(
    fake_kubectl: Kubectl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KUBECTL_FAIL_ROLLOUT", "1")

    with pytest.raises(ClusterError) as caught:
        await run_deploy(
            MANIFESTS, fake_kubectl, dry_run=False, rollout_timeout=5, echo=print
        )

    message = str(caught.value)
    assert message.startswith("1 of 1 workloads did not roll out within 5s")
    assert "Deployment.apps registry-mirror/mirror-docker-io" in message
    assert "timed out waiting for the condition" in message


@pytest.mark.anyio
async def test_no_wait_skips_named_workload(fake_kubectl: Kubectl) -> None:
    lines: list[str] = []

    await run_deploy(
        MANIFESTS,
        fake_kubectl,
        dry_run=False,
        no_wait=("mirror-docker-io",),
        echo=lines.append,
    )

    assert "rollout status" not in _verbs(fake_kubectl)
    assert lines[-1] == (
        "not waiting for Deployment.apps registry-mirror/mirror-docker-io; check "
        "it with `kubectl rollout status deployment.apps/mirror-docker-io "
        "--namespace=registry-mirror`"
    )
