"""Owned temporary folders and the removal of orphaned ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from main.stack.cleanup import (
    MARKER_NAME,
    OwnerRecord,
    make_owned_temp_dir,
    remove_orphaned_temp_dirs,
)


def exited_pid() -> int:
    """Return the pid of a child process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def marked_folder(parent: Path, name: str, marker: str) -> Path:
    folder = parent / name
    folder.mkdir()
    (folder / MARKER_NAME).write_text(marker)
    (folder / "storage").mkdir()
    (folder / "storage" / "blob").write_bytes(b"data")
    return folder


def dead_owner_marker() -> str:
    me = OwnerRecord.current()
    # The same pid with another start time is a process that has exited.
    assert me.start_ticks is not None
    return OwnerRecord(me.pid, me.start_ticks + 1, me.boot_id).to_json()


def test_owned_folder_has_marker(tmp_path: Path) -> None:
    folder = make_owned_temp_dir("upstream registry", parent=tmp_path)

    marker = json.loads((folder / MARKER_NAME).read_text())

    assert folder.name.startswith("registry-mirror-upstream-registry-")
    assert marker["pid"] == os.getpid()
    assert OwnerRecord.from_json((folder / MARKER_NAME).read_text()) is not None


def test_live_owner_folder_kept(tmp_path: Path) -> None:
    folder = make_owned_temp_dir("mirror", parent=tmp_path)

    removed = remove_orphaned_temp_dirs(tmp_path)

    assert removed == []
    assert folder.is_dir()


def test_dead_owner_folder_removed(tmp_path: Path) -> None:
    folder = marked_folder(tmp_path, "registry-mirror-cache-x", dead_owner_marker())

    removed = remove_orphaned_temp_dirs(tmp_path)

    assert removed == [folder]
    assert not folder.exists()


def test_exited_pid_folder_removed(tmp_path: Path) -> None:
    me = OwnerRecord.current()
    marker = OwnerRecord(exited_pid(), 1, me.boot_id).to_json()
    folder = marked_folder(tmp_path, "registry-mirror-mirror-x", marker)

    removed = remove_orphaned_temp_dirs(tmp_path)

    assert removed == [folder]


def test_folder_from_before_reboot_removed(tmp_path: Path) -> None:
    me = OwnerRecord.current()
    marker = OwnerRecord(me.pid, me.start_ticks, "another-boot").to_json()
    folder = marked_folder(tmp_path, "registry-mirror-mirror-x", marker)

    removed = remove_orphaned_temp_dirs(tmp_path)

    assert removed == [folder]


@pytest.mark.parametrize(
    ("name", "marker"),
    [
        pytest.param("registry-mirror-cache-x", None, id="no-marker"),
        pytest.param("registry-mirror-cache-x", "not json", id="marker-not-json"),
        pytest.param("registry-mirror-cache-x", "[1, 2]", id="marker-not-object"),
        pytest.param("registry-mirror-cache-x", '{"pid": "1"}', id="pid-not-int"),
        pytest.param("registry-mirror-cache-x", '{"pid": 0}', id="pid-zero"),
        pytest.param("registry-mirror-cache-x", '{"pid": true}', id="pid-bool"),
        pytest.param("other-tool-x", "dead", id="other-prefix"),
    ],
)
def test_unmarked_folder_kept(tmp_path: Path, name: str, marker: str | None) -> None:
    folder = tmp_path / name
    folder.mkdir()
    if marker is not None:
        text = dead_owner_marker() if marker == "dead" else marker
        (folder / MARKER_NAME).write_text(text)

    removed = remove_orphaned_temp_dirs(tmp_path)

    assert removed == []
    assert folder.is_dir()


def test_marker_symlink_ignored(tmp_path: Path) -> None:
    real_marker = tmp_path / "elsewhere.json"
    real_marker.write_text(dead_owner_marker())
    folder = tmp_path / "registry-mirror-cache-x"
    folder.mkdir()
    (folder / MARKER_NAME).symlink_to(real_marker)

    removed = remove_orphaned_temp_dirs(tmp_path)

    assert removed == []
    assert folder.is_dir()


def test_symlinked_folder_ignored(tmp_path: Path) -> None:
    target = marked_folder(tmp_path, "precious", dead_owner_marker())
    link = tmp_path / "registry-mirror-cache-x"
    link.symlink_to(target, target_is_directory=True)

    removed = remove_orphaned_temp_dirs(tmp_path)

    assert removed == []
    assert (target / "storage" / "blob").is_file()


def test_file_with_prefix_ignored(tmp_path: Path) -> None:
    stray = tmp_path / "registry-mirror-notes"
    stray.write_text("not a folder")

    removed = remove_orphaned_temp_dirs(tmp_path)

    assert removed == []
    assert stray.is_file()


def test_missing_parent_returns_nothing(tmp_path: Path) -> None:
    removed = remove_orphaned_temp_dirs(tmp_path / "absent")

    assert removed == []
