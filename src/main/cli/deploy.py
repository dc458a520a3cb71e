"""`registry-mirror deploy` and `registry-mirror status`: the cluster side."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import typer

from main.cli.app import app
from main.cli.assignments import parse_assignments
from main.cli.settings_options import SET_OPTION, SETTINGS_OPTION, load_cli_settings
from main.deploy import DEFAULT_ROLLOUT_TIMEOUT, Kubectl, read_kubeconfig, run_deploy
from main.errors import RegistryError, UsageError
from main.reference import normalize_base_url
from main.render import render_manifests
from main.settings import GATEWAY_IMAGE_PLACEHOLDER, Settings
from main.status.collect import check_registries, collect_status, expected_mirrors
from main.status.legacy import LEGACY_MOUNT_PATH, explain_legacy_config, format_findings
from main.status.registry import DEFAULT_PAGE_SIZE
from main.status.report import format_status, unreadable_summary
from main.warm.run import parse_mirror_map


def _optional_kubeconfig(value: Path | None) -> Path | None:
    """Return the checked kubeconfig: the option, else $KUBECONFIG, else None."""
    if value is None:
        from_env = os.environ.get("KUBECONFIG", "")
        if os.pathsep in from_env:
            msg = (
                f"KUBECONFIG lists several files ({from_env!r}); pass one with "
                "--kubeconfig, for example after `kubectl config view --flatten`"
            )
            raise UsageError(msg)
        value = Path(from_env) if from_env else None
    if value is not None:
        read_kubeconfig(value)
    return value


def _required_kubeconfig(value: Path | None) -> Path:
    path = _optional_kubeconfig(value)
    if path is None:
        msg = "no kubeconfig: pass --kubeconfig PATH or set KUBECONFIG"
        raise UsageError(msg)
    return path


@app.command()
def deploy(
    kubeconfig: Path | None = typer.Option(
        None, help="Kubeconfig of the cluster (default: $KUBECONFIG)."
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Print the plan and validate it on the API server; change nothing.",
    ),
    rollout_timeout: float = typer.Option(
        DEFAULT_ROLLOUT_TIMEOUT,
        min=1,
        help="Seconds each workload may take to roll out.",
    ),
    no_wait: list[str] = typer.Option(
        [],
        help=(
            "Name of a workload not to wait for, such as dagger-engine when the "
            "deploy runs inside that engine; repeatable."
        ),
    ),
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] = SET_OPTION,
) -> None:
    """Apply the rendered manifests with server-side apply, prune, wait for rollouts."""
    path = _required_kubeconfig(kubeconfig)
    settings = load_cli_settings(settings_file, overrides)
    _check_gateway_image(settings, dry_run=dry_run)
    manifests = render_manifests(settings)

    plan = anyio.run(
        lambda: run_deploy(
            manifests,
            Kubectl(path),
            dry_run=dry_run,
            rollout_timeout=rollout_timeout,
            no_wait=no_wait,
            echo=lambda line: print(line, flush=True),
        )
    )

    if not dry_run:
        print("deploy finished" if plan.has_changes else "deploy finished: no changes")


def _check_gateway_image(settings: Settings, *, dry_run: bool) -> None:
    """Reject the placeholder gateway image, which no registry serves.

    Pods with it would never start, because distribution waits for the
    gateway sidecar. A dry run only warns, so that the plan can be reviewed
    before the image is published.
    """
    if settings.gateway.image != GATEWAY_IMAGE_PLACEHOLDER:
        return
    problem = (
        f"gateway.image is the placeholder {GATEWAY_IMAGE_PLACEHOLDER!r}; publish "
        "the image with `dagger call build-gateway publish "
        "--address=ghcr.io/YOU/registry-mirror-gateway:0.1.0` and set "
        "gateway.image to the reference it prints"
    )
    if not dry_run:
        raise UsageError(problem)
    print(f"warning: {problem}", flush=True)


@app.command()
def status(
    kubeconfig: Path | None = typer.Option(
        None,
        help=(
            "Kubeconfig, to reach the mirrors by port-forward and read the "
            "engine config, counters and disk use (default: $KUBECONFIG)."
        ),
    ),
    mirror: list[str] = typer.Option(
        [],
        help=(
            "Mirror URL for one registry as REGISTRY=URL, such as "
            "docker.io=http://127.0.0.1:5000; repeatable. Without a kubeconfig, "
            "only the registries named here or in --gateway are read."
        ),
    ),
    gateway: list[str] = typer.Option(
        [],
        help=(
            "URL of one mirror's gateway, for its metrics, as REGISTRY=URL, "
            "such as docker.io=http://127.0.0.1:5002; repeatable."
        ),
    ),
    legacy_config: Path | None = typer.Option(
        None,
        help="An old buildkitd.toml to explain: what it did wrong, what replaces it.",
    ),
    legacy_mount_path: str = typer.Option(
        LEGACY_MOUNT_PATH,
        help="Where the old file was mounted in the engine container.",
    ),
    page_size: int = typer.Option(
        DEFAULT_PAGE_SIZE,
        min=1,
        max=1000,
        help="Entries per page of catalog and tag lists.",
    ),
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] = SET_OPTION,
) -> None:
    """Report what the mirrors hold and whether the engine uses them.

    Exits with 1 after the report when a mirror's contents could not be read.
    """
    settings = load_cli_settings(settings_file, overrides)
    urls = parse_mirror_map(mirror)
    gateway_urls = {
        registry: normalize_base_url(url)
        for registry, url in parse_assignments(
            gateway, option="--gateway", example="docker.io=http://127.0.0.1:5002"
        ).items()
    }
    check_registries(settings, urls, "--mirror")
    check_registries(settings, gateway_urls, "--gateway")
    if legacy_config is not None:
        _explain_legacy(legacy_config, legacy_mount_path, expected_mirrors(settings))
    path = _optional_kubeconfig(kubeconfig)
    kubectl = Kubectl(path) if path is not None else None

    report = anyio.run(
        lambda: collect_status(
            settings,
            kubectl=kubectl,
            mirror_urls=urls,
            gateway_urls=gateway_urls,
            page_size=page_size,
        )
    )

    for line in format_status(report):
        print(line, flush=True)
    problem = unreadable_summary(report)
    if problem is not None:
        raise RegistryError(problem)


def _explain_legacy(path: Path, mount_path: str, mirrors: dict[str, str]) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read legacy config {str(path)!r}: {exc.strerror}"
        raise UsageError(msg) from exc
    findings = explain_legacy_config(
        text, mirrors, mount_path=mount_path, source=str(path)
    )
    for line in format_findings(findings, str(path)):
        print(line)
    print()
