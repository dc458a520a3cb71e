"""Tests of writing the manifests to a directory and of `python -m main.render`."""

from __future__ import annotations

from pathlib import Path

import pytest

from main.errors import UsageError
from main.render import output, render_manifests, write_manifests
from main.render.__main__ import main
from main.render.kustomize import HEADER
from main.settings import Settings
from tests.render.rendered import HOME_SETTINGS


def _listing(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in directory.iterdir()}


def test_write_creates_directory(tmp_path: Path) -> None:
    out_dir = tmp_path / "deep" / "k8s"

    written = write_manifests(Settings(), out_dir)

    assert _listing(out_dir) == render_manifests(Settings())
    assert written == [out_dir / name for name in sorted(render_manifests(Settings()))]


def test_write_removes_stale_files(tmp_path: Path) -> None:
    out_dir = tmp_path / "k8s"
    out_dir.mkdir()
    stale = HEADER + "kind: ConfigMap\n"
    (out_dir / "20-mirror-gcr-io.yaml").write_text(stale, encoding="utf-8")

    write_manifests(Settings(), out_dir)

    assert not (out_dir / "20-mirror-gcr-io.yaml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k8s"]


def test_failed_write_keeps_old_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir = tmp_path / "k8s"
    out_dir.mkdir()
    old = HEADER + "old\n"
    (out_dir / "kustomization.yaml").write_text(old, encoding="utf-8")

    def fail(staging: Path, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "_replace_directory", fail)

    with pytest.raises(UsageError, match="No space left on device"):
        write_manifests(Settings(), out_dir)

    assert _listing(out_dir) == {"kustomization.yaml": old}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k8s"]


def test_write_rejects_file_as_directory(tmp_path: Path) -> None:
    target = tmp_path / "k8s"
    target.write_text("not a directory\n", encoding="utf-8")

    with pytest.raises(UsageError, match="is a file; pass a directory path"):
        write_manifests(Settings(), target)

    assert target.read_text(encoding="utf-8") == "not a directory\n"


def test_module_entry_point_writes_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "home"

    code = main([str(out_dir), str(HOME_SETTINGS)])

    assert code == 0
    assert "wrote 6 files" in capsys.readouterr().out
    assert (out_dir / "kustomization.yaml").exists()


def test_module_entry_point_reports_bad_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text('[storage]\nsize = "50GB"\n', encoding="utf-8")
    out_dir = tmp_path / "k8s"

    code = main([str(out_dir), str(settings_file)])

    error = capsys.readouterr().err
    assert code == 1
    assert (
        error == "error: storage.size '50GB' is not a Kubernetes quantity; use '50Gi'\n"
    )
    assert not out_dir.exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("deployment.yaml", "kind: Deployment\n", id="foreign-yaml"),
        pytest.param("notes.txt", HEADER, id="not-yaml"),
        pytest.param(".git", None, id="folder"),
    ],
)
def test_write_refuses_folder_with_other_files(
    tmp_path: Path, name: str, content: str | None
) -> None:
    out_dir = tmp_path / "manifests"
    out_dir.mkdir()
    entry = out_dir / name
    if content is None:
        entry.mkdir()
    else:
        entry.write_text(content, encoding="utf-8")

    with pytest.raises(UsageError, match="not a rendered manifest"):
        write_manifests(Settings(), out_dir)

    assert entry.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifests"]


def test_write_refuses_root_folder() -> None:
    with pytest.raises(UsageError, match="not a rendered manifest"):
        write_manifests(Settings(), Path("/"))
