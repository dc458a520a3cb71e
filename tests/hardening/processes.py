"""Run the CLI as a subprocess and watch the processes and folders it leaves."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.helpers import COMMAND, child_pids, pid_alive

READY_LINE = "Stop with Ctrl-C."
URL = re.compile(r"http://127\.0\.0\.1:(\d+)")
# Bound for a process that got SIGKILL from the kernel to disappear.
EXIT_WAIT_SECONDS = 10.0
READY_WAIT_SECONDS = 180.0


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """Return an environment with its own temporary folder for the CLI."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    return dict(os.environ, TMPDIR=str(temp))


def temp_entries(env: dict[str, str]) -> list[str]:
    """List what the CLI left in its temporary folder."""
    return sorted(path.name for path in Path(env["TMPDIR"]).iterdir())


def registry_pids(parent: int) -> list[int]:
    """List the docker-registry processes started by `parent`."""
    found = []
    for pid in child_pids(parent):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"docker-registry") for part in command):
            found.append(pid)
    return found


def wait_for_exit(pids: list[int], timeout: float = EXIT_WAIT_SECONDS) -> list[int]:
    """Wait until every pid has exited; return those still alive at the end."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if pid_alive(pid)]
    return alive


def start_up(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    """Start `registry-mirror up` with the small image and no WAN delay."""
    return subprocess.Popen(
        [*COMMAND, "up", "--image", "debian:bookworm-slim", "--rtt-ms", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_until_ready(process: subprocess.Popen[str]) -> list[int]:
    """Read `up`'s output until it is ready; return the ports it printed."""
    assert process.stdout is not None
    ports: list[int] = []
    deadline = time.monotonic() + READY_WAIT_SECONDS
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        ports += [int(port) for port in URL.findall(line)]
        if READY_LINE in line:
            return ports
    process.kill()
    _, stderr = process.communicate(timeout=30)
    pytest.fail(f"`up` did not become ready; exit code {process.poll()}: {stderr}")


def stop_with_ctrl_c(process: subprocess.Popen[str]) -> str:
    """Send SIGINT, wait for the exit and return stderr."""
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    return stderr


def kill_hard(process: subprocess.Popen[str]) -> None:
    """Send SIGKILL, as the OOM killer or `kill -9` would, and reap the process."""
    process.kill()
    process.communicate(timeout=30)
