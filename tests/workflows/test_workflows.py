"""Offline checks of the GitHub Actions workflows: schema, zizmor, addresses, pins."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from main.settings import Settings
from tests.workflows.conftest import (
    WORKFLOW_NAMES,
    WORKFLOWS,
    pinned_engine_version,
    service_url,
)

RUNNER_HOST = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
DAGGER_ACTION = "dagger/dagger-for-github"
# owner/repo@<40 hex> # vX.Y.Z
PINNED_USES = re.compile(r"uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+(\.\d+)*$")
VENV_BIN = Path(sys.executable).parent


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_workflow_matches_github_schema(name: str) -> None:
    result = subprocess.run(
        [
            str(VENV_BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(WORKFLOWS / name),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("persona", ["regular", "pedantic", "auditor"])
def test_zizmor_finds_nothing(persona: str) -> None:
    result = subprocess.run(
        [
            str(VENV_BIN / "zizmor"),
            "--offline",
            f"--persona={persona}",
            "--no-progress",
            str(WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_engine_address_is_rendered_service(
    workflows: dict[str, dict[str, Any]],
    rendered_objects: list[dict[str, Any]],
    settings: Settings,
    name: str,
) -> None:
    engine_urls = service_url(
        rendered_objects, "engine", "tcp", settings.cluster_domain
    )

    assert engine_urls == [workflows[name]["env"][RUNNER_HOST]]


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_cli_version_is_the_pin(
    workflows: dict[str, dict[str, Any]], name: str
) -> None:
    versions = [
        step["with"]["version"]
        for step in _steps(workflows[name])
        if step.get("uses", "").startswith(f"{DAGGER_ACTION}@")
    ]

    assert versions
    assert set(versions) == {pinned_engine_version()}


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_action_is_pinned_to_a_commit(name: str) -> None:
    text = (WORKFLOWS / name).read_text(encoding="utf-8")

    uses = [line.strip() for line in text.splitlines() if "uses:" in line]

    assert uses
    for line in uses:
        assert PINNED_USES.search(line), line


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_jobs_run_on_home_runners_with_timeout(
    workflows: dict[str, dict[str, Any]], name: str
) -> None:
    for job in workflows[name]["jobs"].values():
        assert job["runs-on"] == "k8s-home-runners"
        assert 0 < job["timeout-minutes"] <= 60


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_permissions_are_read_only(
    workflows: dict[str, dict[str, Any]], name: str
) -> None:
    assert workflows[name]["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_checkout_keeps_no_credentials(
    workflows: dict[str, dict[str, Any]], name: str
) -> None:
    checkouts = [
        step
        for step in _steps(workflows[name])
        if step.get("uses", "").startswith("actions/checkout@")
    ]

    assert checkouts
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False


def test_ci_cancels_superseded_runs(workflows: dict[str, dict[str, Any]]) -> None:
    concurrency = workflows["ci.yml"]["concurrency"]

    assert concurrency["cancel-in-progress"] is True
    assert "github.ref" in concurrency["group"]


def test_ci_runs_lint_and_test(workflows: dict[str, dict[str, Any]]) -> None:
    commands = [step.get("run", "") for step in _steps(workflows["ci.yml"])]

    assert "dagger call lint --source-dir ." in commands
    assert "dagger call test --source-dir ." in commands


def test_benchmark_measures_rendered_mirror(
    workflows: dict[str, dict[str, Any]],
    rendered_objects: list[dict[str, Any]],
    settings: Settings,
) -> None:
    mirror_urls = service_url(
        rendered_objects, "mirror", "http", settings.cluster_domain
    )
    command = next(
        step["run"]
        for step in _steps(workflows["benchmark.yml"])
        if "dagger call benchmark" in step.get("run", "")
    )

    url = re.search(r"--mirror (\S+)", command)

    assert url is not None
    assert url.group(1) in mirror_urls
    assert "mirror-docker-io" in url.group(1)


def test_benchmark_is_manual_and_weekly(workflows: dict[str, dict[str, Any]]) -> None:
    # YAML 1.1 reads the key `on` as True.
    triggers = workflows["benchmark.yml"][True]

    assert "workflow_dispatch" in triggers
    assert len(triggers["schedule"]) == 1


def test_benchmark_uploads_json_and_chart(
    workflows: dict[str, dict[str, Any]],
) -> None:
    upload = next(
        step
        for step in _steps(workflows["benchmark.yml"])
        if step.get("uses", "").startswith("actions/upload-artifact@")
    )

    assert "benchmark.json" in upload["with"]["path"]
    assert "benchmark.png" in upload["with"]["path"]


def test_deploy_is_manual_protected_and_dry_runs_first(
    workflows: dict[str, dict[str, Any]],
) -> None:
    workflow = workflows["deploy.yml"]
    job = workflow["jobs"]["deploy"]
    commands = [step.get("run", "") for step in job["steps"]]
    deploys = [command for command in commands if "dagger call deploy" in command]

    assert list(workflow[True]) == ["workflow_dispatch"]
    assert job["environment"] == "cluster"
    assert len(deploys) == 2
    assert deploys[0].endswith("--dry-run")
    assert "--dry-run" not in deploys[1]


def test_deploy_reads_kubeconfig_from_secret(
    workflows: dict[str, dict[str, Any]],
) -> None:
    steps = [s for s in _steps(workflows["deploy.yml"]) if "run" in s]
    deploys = [s for s in steps if "dagger call deploy" in s["run"]]

    for step in deploys:
        assert step["env"]["KUBECONFIG_DATA"] == "${{ secrets.KUBECONFIG }}"
        assert "--kubeconfig env:KUBECONFIG_DATA" in step["run"]
