"""Fixtures for the workflow tests: the parsed workflows and the rendered objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from main.render import render_manifests
from main.settings import DEFAULT_SETTINGS_FILE, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_NAMES = ("ci.yml", "benchmark.yml", "deploy.yml")


def pinned_engine_version() -> str:
    """Return `engineVersion` from dagger.json, such as `v0.21.11`."""
    config = json.loads((ROOT / "dagger.json").read_text(encoding="utf-8"))
    return str(config["engineVersion"])


@pytest.fixture(scope="session")
def workflows() -> dict[str, dict[str, Any]]:
    """Every workflow file parsed, by file name."""
    return {
        name: yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
        for name in WORKFLOW_NAMES
    }


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The settings of the repository's settings file."""
    return load_settings(ROOT / DEFAULT_SETTINGS_FILE)


@pytest.fixture(scope="session")
def rendered_objects(settings: Settings) -> list[dict[str, Any]]:
    """The objects rendered from the repository's settings file."""
    objects: list[dict[str, Any]] = []
    for name, text in sorted(render_manifests(settings).items()):
        if name != "kustomization.yaml":
            objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def service_url(
    objects: list[dict[str, Any]], component: str, scheme: str, domain: str
) -> list[str]:
    """Return `scheme://NAME.NAMESPACE.svc.DOMAIN:PORT` of a component's Services."""
    urls = []
    for obj in objects:
        labels = obj["metadata"].get("labels", {})
        if (
            obj["kind"] != "Service"
            or labels.get("app.kubernetes.io/component") != component
        ):
            continue
        host = f"{obj['metadata']['name']}.{obj['metadata']['namespace']}.svc.{domain}"
        for port in obj["spec"]["ports"]:
            urls.append(f"{scheme}://{host}:{port['port']}")
    return urls
