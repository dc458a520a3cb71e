"""The Dagger engine version is pinned once, in dagger.json, and used everywhere.

dagger.json's `engineVersion` is the pin. The Python SDK (`dagger-io` in
pyproject.toml and uv.lock), the engine image of the rendered manifests and
of the checked-in k8s/ base, and the Dagger CLI of the workflows must all be
that version. Each test names the place that drifted.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from main.render import render_manifests
from main.settings import DEFAULT_SETTINGS_FILE, load_settings
from tests.workflows.conftest import ROOT, WORKFLOWS, pinned_engine_version

ENGINE_IMAGE = re.compile(r"registry\.dagger\.io/engine:(v[0-9][^@\s]*)")


def _bare(version: str) -> str:
    return version.removeprefix("v")


def test_pin_is_a_release_version() -> None:
    assert re.fullmatch(r"v\d+\.\d+\.\d+", pinned_engine_version())


def test_pyproject_pins_the_sdk() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

    pins = [d for d in project["project"]["dependencies"] if d.startswith("dagger-io")]

    assert pins == [f"dagger-io=={_bare(pinned_engine_version())}"]


def test_lock_file_holds_the_sdk() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))

    versions = [p["version"] for p in lock["package"] if p["name"] == "dagger-io"]

    assert versions == [_bare(pinned_engine_version())]


def test_installed_sdk_is_the_pin() -> None:
    installed = importlib.metadata.version("dagger-io")

    assert installed == _bare(pinned_engine_version())


def _engine_images(text: str) -> list[str]:
    images: list[str] = []
    for document in yaml.safe_load_all(text):
        if not document or document.get("kind") not in {"StatefulSet", "DaemonSet"}:
            continue
        for container in _containers(document):
            images.append(container["image"])
    return images


def _containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    pod = document["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_rendered_engine_image_is_the_pin() -> None:
    settings = load_settings(ROOT / DEFAULT_SETTINGS_FILE)

    images = [
        image
        for name, text in render_manifests(settings).items()
        if name != "kustomization.yaml"
        for image in _engine_images(text)
    ]

    assert images
    assert {ENGINE_IMAGE.fullmatch(image) is not None for image in images} == {True}
    assert {image.rpartition(":")[2] for image in images} == {pinned_engine_version()}


@pytest.mark.parametrize(
    "path", sorted((ROOT / "k8s").glob("*.yaml")), ids=lambda path: path.name
)
def test_checked_in_engine_image_is_the_pin(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    versions = set(ENGINE_IMAGE.findall(text))

    assert versions <= {pinned_engine_version()}


@pytest.mark.parametrize(
    "path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name
)
def test_workflow_cli_version_is_the_pin(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    versions = set(re.findall(r"^\s+version: (\S+)$", text, re.MULTILINE))

    assert versions == {pinned_engine_version()}
