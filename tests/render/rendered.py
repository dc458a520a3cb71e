"""Helpers for the rendering tests: settings variants and parsed documents."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from main.render import render_manifests
from main.settings import Settings, load_settings

ROOT = Path(__file__).parent.parent.parent
DATA = ROOT / "tests" / "data" / "render"
# The home variant and its expected files. After an intended change, regenerate
# them with `uv run python -m main.render tests/data/render/home HOME_SETTINGS`.
HOME_SETTINGS = DATA / "home.toml"
HOME_EXPECTED = DATA / "home"


def home_settings() -> Settings:
    """Return the settings of a home cluster: local volumes, a login, metrics."""
    return load_settings(HOME_SETTINGS)


# libyaml's loader parses the same YAML several times faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def documents(files: dict[str, str]) -> list[dict[str, Any]]:
    """Parse every rendered Kubernetes object, in apply order."""
    parsed: list[dict[str, Any]] = []
    for name in sorted(files):
        if name == "kustomization.yaml":
            continue
        parsed.extend(doc for doc in yaml.load_all(files[name], Loader=_LOADER) if doc)
    return parsed


@functools.cache
def _rendered_documents(settings: Settings) -> list[dict[str, Any]]:
    return documents(render_manifests(settings))


def objects(settings: Settings, kind: str) -> list[dict[str, Any]]:
    """Return the rendered objects of one kind; callers must not change them."""
    return [doc for doc in _rendered_documents(settings) if doc["kind"] == kind]


def named(settings: Settings, kind: str, name: str) -> dict[str, Any]:
    """Return the one rendered object of `kind` called `name`."""
    found = [doc for doc in objects(settings, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name} rendered {len(found)} times"
    return found[0]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    """Return the only container of a Deployment or StatefulSet."""
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])
