"""A CLI killed with SIGKILL leaves no server running, and the next run cleans up.

SIGKILL runs no handler, so the registries die through the parent-death
signal that `setpriv --pdeathsig KILL` sets, and the temporary folders are
removed by the next stack's start-up scan of owner markers.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from main.stack.layout import ImageLayout
from tests.cli.helpers import COMMAND
from tests.hardening.processes import (
    isolated_env,
    kill_hard,
    registry_pids,
    start_up,
    stop_with_ctrl_c,
    temp_entries,
    wait_for_exit,
    wait_until_ready,
)

MIRROR_STORE_WAIT_SECONDS = 300.0


def assert_next_run_cleans(env: dict[str, str], stale: list[str]) -> None:
    """Run `up` again and check it removed `stale` before stopping cleanly."""
    process = start_up(env)
    wait_until_ready(process)
    during = temp_entries(env)

    stderr = stop_with_ctrl_c(process)

    assert process.returncode == 130, stderr
    assert [name for name in stale if name in during] == []
    assert temp_entries(env) == []


def wait_for_mirror_blobs(temp: Path, process: subprocess.Popen[str]) -> bool:
    """Wait until a mirror has started storing pulled blobs."""
    deadline = time.monotonic() + MIRROR_STORE_WAIT_SECONDS
    pattern = "registry-mirror-cache-*/**/docker/registry/v2/blobs/sha256"
    while time.monotonic() < deadline and process.poll() is None:
        if any(temp.glob(pattern)):
            return True
        time.sleep(0.05)
    return False


def test_up_killed_leaves_no_registry(
    small_image_layout: ImageLayout, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path)
    process = start_up(env)
    wait_until_ready(process)
    registries = registry_pids(process.pid)

    kill_hard(process)
    survivors = wait_for_exit(registries)
    stale = temp_entries(env)

    assert len(registries) >= 2
    assert survivors == []
    assert stale != []
    assert_next_run_cleans(env, stale)


def test_benchmark_killed_mid_pull(
    small_image_layout: ImageLayout, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path)
    output = tmp_path / "out"
    process = subprocess.Popen(
        [
            *COMMAND,
            "benchmark",
            "--image",
            "debian:bookworm-slim",
            "--concurrency",
            "2",
            "--warm-rounds",
            "1",
            # A slow link keeps the cold pull running while the test kills.
            "--bandwidth-mbit",
            "20",
            "--output-dir",
            str(output),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    storing = wait_for_mirror_blobs(Path(env["TMPDIR"]), process)
    registries = registry_pids(process.pid)

    kill_hard(process)
    survivors = wait_for_exit(registries)
    stale = temp_entries(env)

    assert storing, "the benchmark never reached a cold pull through the mirror"
    assert len(registries) >= 2
    assert survivors == []
    assert not (output / "benchmark.json").exists()
    assert stale != []
    assert_next_run_cleans(env, stale)
