"""Fixtures for the deploy tests: rendered manifests and live cluster states."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from main.deploy import KubeObject, ObjectKey, objects_from_manifests

DATA = Path(__file__).parent / "data"


def load_documents(name: str) -> list[dict[str, Any]]:
    """Load the YAML documents of a file in tests/deploy/data."""
    text = (DATA / name).read_text(encoding="utf-8")
    return [document for document in yaml.safe_load_all(text) if document]


@pytest.fixture
def rendered() -> list[KubeObject]:
    """The rendered objects of tests/deploy/data/rendered.yaml, in apply order."""
    text = (DATA / "rendered.yaml").read_text(encoding="utf-8")
    return objects_from_manifests({"rendered.yaml": text})


@pytest.fixture
def live_after_apply() -> dict[ObjectKey, dict[str, Any]]:
    """Live bodies of the rendered objects after a first deploy, by key."""
    objects = [
        KubeObject.from_body(body) for body in load_documents("live-after-apply.yaml")
    ]
    return {obj.key: copy.deepcopy(dict(obj.body)) for obj in objects}


@pytest.fixture
def leftovers() -> list[KubeObject]:
    """Managed objects from an earlier run that the current settings do not render."""
    return [KubeObject.from_body(body) for body in load_documents("leftovers.yaml")]
