"""Tests of the kustomize base as a whole: golden files, schemas, kubectl."""

from __future__ import annotations

import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from main.render import render_manifests
from main.settings import DEFAULT_SETTINGS_FILE, Settings, load_settings
from tests.render.rendered import HOME_EXPECTED, ROOT, documents, home_settings

# The oldest Kubernetes minor version the manifests must be valid for.
KUBERNETES_VERSION = "1.31.0"
KUBECTL_TIMEOUT_SECONDS = 60

VARIANTS = [
    pytest.param(Settings(), id="defaults"),
    pytest.param(home_settings(), id="home"),
]


def _read_directory(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in directory.iterdir()}


def test_checked_in_base_equals_render() -> None:
    settings = load_settings(ROOT / DEFAULT_SETTINGS_FILE)

    rendered = render_manifests(settings)

    assert _read_directory(ROOT / "k8s") == rendered


def test_home_variant_matches_golden_files() -> None:
    rendered = render_manifests(home_settings())

    expected = _read_directory(HOME_EXPECTED)

    assert sorted(rendered) == sorted(expected)
    for name, text in expected.items():
        assert rendered[name] == text, name


@pytest.mark.parametrize("settings", VARIANTS)
def test_render_is_deterministic(settings: Settings) -> None:
    assert render_manifests(settings) == render_manifests(settings)


@pytest.mark.parametrize("settings", VARIANTS)
def test_kustomization_lists_files_in_apply_order(settings: Settings) -> None:
    files = render_manifests(settings)

    kustomization = yaml.safe_load(files["kustomization.yaml"])

    assert kustomization["kind"] == "Kustomization"
    assert kustomization["resources"] == sorted(set(files) - {"kustomization.yaml"})
    assert kustomization["resources"][0] == "00-namespaces.yaml"
    assert kustomization["resources"][1] == "10-network-policies.yaml"
    assert kustomization["resources"][-1] == "30-dagger-engine.yaml"


@pytest.mark.parametrize("settings", VARIANTS)
def test_every_document_passes_schema(settings: Settings) -> None:
    for document in documents(render_manifests(settings)):
        kind_name = f"{document['kind']}/{document['metadata']['name']}"

        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{kind_name}: {exc.message}")


@pytest.mark.parametrize("settings", VARIANTS)
def test_every_object_carries_managed_by(settings: Settings) -> None:
    for document in documents(render_manifests(settings)):
        labels = document["metadata"]["labels"]

        assert labels["app.kubernetes.io/managed-by"] == "registry-mirror"
        assert labels["app.kubernetes.io/part-of"] == "registry-mirror"


@pytest.mark.parametrize("settings", VARIANTS)
def test_object_names_are_unique(settings: Settings) -> None:
    keys = [
        (doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"])
        for doc in documents(render_manifests(settings))
    ]

    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("settings", VARIANTS)
def test_documents_have_no_yaml_aliases(settings: Settings) -> None:
    for name, text in render_manifests(settings).items():
        assert "&id" not in text, name
        assert "*id" not in text, name


@pytest.mark.parametrize(
    "directory",
    [pytest.param(ROOT / "k8s", id="k8s"), pytest.param(HOME_EXPECTED, id="home")],
)
def test_kubectl_kustomize_builds(directory: Path) -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=KUBECTL_TIMEOUT_SECONDS,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    expected = documents(_read_directory(directory))
    assert len(built) == len(expected)
