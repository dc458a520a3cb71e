"""Render replaces its output folder only when that folder holds manifests only."""

from __future__ import annotations

from pathlib import Path

import pytest

from main.errors import UsageError
from main.render import write_manifests
from main.render.kustomize import HEADER
from main.settings import Settings


def folder_with(tmp_path: Path, *names: str) -> Path:
    """Create `out` with folders (names ending in '/') and files.

    YAML files start with render's header, as an earlier render wrote them,
    unless their name starts with "foreign".
    """
    folder = tmp_path / "out"
    folder.mkdir()
    for name in names:
        if name.endswith("/"):
            (folder / name).mkdir()
        elif name.endswith(".yaml") and not name.startswith("foreign"):
            (folder / name).write_text(HEADER + "kept: true\n")
        else:
            (folder / name).write_text("kept\n")
    return folder


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        pytest.param(("passwd", "hosts"), "'hosts'", id="system-files"),
        pytest.param(("kustomization.yaml", "README.md"), "'README.md'", id="readme"),
        pytest.param(("00-a.yaml", "ssl/"), "'ssl'", id="subfolder"),
        pytest.param((".git/",), "'.git'", id="dot-folder"),
        pytest.param(("foreign-app.yaml",), "'foreign-app.yaml'", id="other-yaml"),
    ],
)
def test_foreign_folder_not_replaced(
    tmp_path: Path, names: tuple[str, ...], shown: str
) -> None:
    folder = folder_with(tmp_path, *names)

    with pytest.raises(UsageError) as raised:
        write_manifests(Settings(), folder)

    assert shown in str(raised.value)
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        name.rstrip("/") for name in names
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_yaml_symlink_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "precious.yaml"
    target.write_text("kept\n")
    folder = folder_with(tmp_path)
    (folder / "00-link.yaml").symlink_to(target)

    with pytest.raises(UsageError):
        write_manifests(Settings(), folder)

    assert target.read_text() == "kept\n"


@pytest.mark.parametrize(
    "names",
    [
        pytest.param((), id="empty"),
        pytest.param(("kustomization.yaml", "20-mirror-gcr-io.yaml"), id="earlier"),
    ],
)
def test_manifest_folder_replaced(tmp_path: Path, names: tuple[str, ...]) -> None:
    folder = folder_with(tmp_path, *names)

    written = write_manifests(Settings(), folder)

    assert sorted(path.name for path in folder.iterdir()) == sorted(
        path.name for path in written
    )
