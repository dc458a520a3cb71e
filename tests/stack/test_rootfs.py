"""Tests for the mmdebstrap command line and its error handling."""

from __future__ import annotations

import functools
from pathlib import Path

import anyio
import pytest

from main.errors import StackError
from main.stack.rootfs import (
    MERGED_USR_HOOKS,
    RootfsRequest,
    build_rootfs,
    debian_sources,
    mmdebstrap_command,
)
from tests.stack.processes import processes_mentioning

SOURCES = debian_sources("bookworm")
MINBASE = RootfsRequest("bookworm", "amd64", "minbase", ("python3",), SOURCES, 1)
EXTRACT = RootfsRequest("bookworm", "arm64", "extract", ("bash", "dash"), SOURCES, 1)
# mmdebstrap starts its build within a second; the limit only stops a hang.
BUILD_START_SECONDS = 60.0


def test_debian_sources_cover_updates_and_security() -> None:
    assert SOURCES == (
        "deb http://deb.debian.org/debian bookworm main",
        "deb http://deb.debian.org/debian bookworm-updates main",
        "deb http://deb.debian.org/debian-security bookworm-security main",
    )


def test_command_uses_unshare_mode_and_merged_usr() -> None:
    command = mmdebstrap_command(MINBASE, Path("/out.tar"), None)

    assert command[0] == "mmdebstrap"
    assert "--mode=unshare" in command
    assert f"--hook-dir={MERGED_USR_HOOKS}" in command
    assert "--variant=minbase" in command
    assert "--architectures=amd64" in command
    assert "--include=python3" in command


def test_command_ends_with_suite_output_sources() -> None:
    command = mmdebstrap_command(MINBASE, Path("/out.tar"), None)

    assert command[-5:] == ["bookworm", "/out.tar", *SOURCES]


def test_command_writes_package_list(tmp_path: Path) -> None:
    listing = tmp_path / "has space" / "packages.txt"

    command = mmdebstrap_command(MINBASE, Path("/out.tar"), listing)

    hooks = [part for part in command if part.startswith("--customize-hook=")]
    assert any("dpkg-query" in hook for hook in hooks)
    assert any(hook.endswith(f"> '{listing}'") for hook in hooks)


def test_extract_command_uses_extract_hooks() -> None:
    command = mmdebstrap_command(EXTRACT, Path("/out.tar"), None)

    hooks = [part for part in command if part.startswith("--extract-hook=")]
    assert any('"$1/var/lib/dpkg/status"' in hook for hook in hooks)
    assert any('"$1/etc/resolv.conf"' in hook for hook in hooks)
    assert not any(part.startswith("--customize-hook=") for part in command)
    assert "--include=bash,dash" in command


@pytest.mark.anyio
async def test_missing_mmdebstrap_raises(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(StackError, match="apt-get install -y mmdebstrap"):
        await build_rootfs(MINBASE, tmp_path / "o.tar", tmp_path, time_limit=5)


@pytest.mark.anyio
async def test_failed_run_reports_apt_error(tmp_path: Path) -> None:
    request = RootfsRequest(
        "bookworm", "amd64", "minbase", ("no-such-package-xyz",), SOURCES, 1
    )

    with pytest.raises(StackError) as caught:
        await build_rootfs(request, tmp_path / "o.tar", tmp_path, time_limit=300)

    message = str(caught.value)
    assert message.startswith("mmdebstrap (minbase bookworm for amd64) failed")
    assert "no-such-package-xyz" in message
    assert "\n" not in message
    assert not (tmp_path / "o.tar").exists()


@pytest.mark.anyio
async def test_time_limit_stops_mmdebstrap(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"timed out after 0\.5 s"):
        await build_rootfs(MINBASE, tmp_path / "o.tar", tmp_path, time_limit=0.5)

    assert processes_mentioning(str(tmp_path)) == []
    assert not (tmp_path / "o.tar").exists()


@pytest.mark.anyio
async def test_cancelled_build_removes_output(tmp_path: Path) -> None:
    output = tmp_path / "o.tar"
    building = anyio.Event()

    def watch(line: str) -> None:
        # mmdebstrap creates the output file before its build process starts
        # and prints this line.
        if line.startswith("I: running apt-get update"):
            building.set()

    build = functools.partial(
        build_rootfs, MINBASE, output, tmp_path, time_limit=300, on_line=watch
    )
    async with anyio.create_task_group() as group:
        group.start_soon(build)
        with anyio.fail_after(BUILD_START_SECONDS):
            await building.wait()
        created = output.exists()
        group.cancel_scope.cancel()

    assert created
    assert processes_mentioning(str(tmp_path)) == []
    assert not output.exists()
