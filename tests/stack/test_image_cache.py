"""Tests for storing image layouts in the cache directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import anyio
import pytest

from main.errors import StackError
from main.stack.image_cache import (
    _mounts_under,
    build_lock,
    make_work_dir,
    publish,
    read_cached,
    remove_stale_work_dirs,
    remove_work_dir,
)


def _dead_pid() -> int:
    """Return the ID of a process that has exited and been reaped."""
    process = subprocess.Popen(["true"])
    process.wait(timeout=10)
    return process.pid


def test_make_work_dir_is_hidden_and_unique(tmp_path: Path) -> None:
    first = make_work_dir(tmp_path / "cache", "image")
    second = make_work_dir(tmp_path / "cache", "image")

    assert first != second
    assert first.parent == tmp_path / "cache"
    assert first.name.startswith(f".build-{os.getpid()}-image-")


def test_remove_stale_work_dirs_spares_live_builds(tmp_path: Path) -> None:
    live = make_work_dir(tmp_path, "image")
    stale = tmp_path / f".build-{_dead_pid()}-image-abc"
    (stale / "rootfs").mkdir(parents=True)
    layout = tmp_path / "image-0123"
    layout.mkdir()

    remove_stale_work_dirs(tmp_path)

    assert live.is_dir()
    assert not stale.exists()
    assert layout.is_dir()


def test_publish_renames_into_place(tmp_path: Path) -> None:
    built = tmp_path / "work" / "layout"
    built.mkdir(parents=True)
    (built / "index.json").write_text("{}")

    publish(built, tmp_path / "image")

    assert (tmp_path / "image" / "index.json").read_text() == "{}"
    assert not built.exists()


def test_publish_keeps_existing_layout(tmp_path: Path) -> None:
    target = tmp_path / "image"
    target.mkdir()
    (target / "index.json").write_text("first")
    built = tmp_path / "work"
    built.mkdir()
    (built / "index.json").write_text("second")

    publish(built, target)

    assert (target / "index.json").read_text() == "first"


def test_publish_fails_when_target_is_not_a_layout(tmp_path: Path) -> None:
    target = tmp_path / "image"
    target.mkdir()
    (target / "stray").write_text("")
    built = tmp_path / "work"
    built.mkdir()

    with pytest.raises(OSError, match="Directory not empty"):
        publish(built, target)


def test_read_cached_without_layout_is_none(tmp_path: Path) -> None:
    assert read_cached(tmp_path / "missing") is None


def test_read_cached_deletes_broken_layout(tmp_path: Path) -> None:
    target = tmp_path / "image"
    target.mkdir()
    (target / "index.json").write_text("not json")

    assert read_cached(target) is None
    assert not target.exists()


def test_mounts_under_finds_proc() -> None:
    assert "/proc" in _mounts_under(Path("/proc"))


def test_remove_work_dir_deletes_tree(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "a" / "b").mkdir(parents=True)

    remove_work_dir(work)

    assert not work.exists()


@pytest.mark.anyio
async def test_build_lock_makes_second_wait(tmp_path: Path) -> None:
    events: list[str] = []

    async def hold(label: str, seconds: float) -> None:
        async with build_lock(tmp_path, "image", 10, lambda: events.append("wait")):
            events.append(f"{label} in")
            await anyio.sleep(seconds)
            events.append(f"{label} out")

    async with anyio.create_task_group() as group:
        group.start_soon(hold, "first", 1.0)
        await anyio.sleep(0.1)
        group.start_soon(hold, "second", 0)

    assert events == ["first in", "wait", "first out", "second in", "second out"]


@pytest.mark.anyio
async def test_build_lock_wait_is_bounded(tmp_path: Path) -> None:
    async with build_lock(tmp_path, "image", 10, lambda: None):
        with pytest.raises(StackError, match="another process has been building"):
            async with build_lock(tmp_path, "image", 0.2, lambda: None):
                pass
