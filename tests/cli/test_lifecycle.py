"""The CLI stops every server it started: on normal exit, Ctrl-C and SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from main.stack.layout import ImageLayout
from tests.cli.helpers import COMMAND, child_pids, pid_alive, run_cli

READY_LINE = "Stop with Ctrl-C."
URL = re.compile(r"http://127\.0\.0\.1:(\d+)")


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """Give the CLI its own temporary folder, so leftovers can be counted."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    return dict(os.environ, TMPDIR=str(temp))


def leftovers(env: dict[str, str]) -> list[str]:
    return sorted(path.name for path in Path(env["TMPDIR"]).iterdir())


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until_ready(process: subprocess.Popen[str], timeout: float) -> list[int]:
    """Read `up`'s output until it is ready; return the ports it printed."""
    assert process.stdout is not None
    ports: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        ports += [int(port) for port in URL.findall(line)]
        if READY_LINE in line:
            return ports
    process.kill()
    pytest.fail(f"`up` did not become ready; exit code {process.poll()}")


@pytest.mark.parametrize(
    "stop_signal",
    [
        pytest.param(signal.SIGINT, id="ctrl-c"),
        pytest.param(signal.SIGTERM, id="sigterm"),
    ],
)
def test_up_stops_servers_on_signal(
    stop_signal: signal.Signals, small_image_layout: ImageLayout, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path)
    process = subprocess.Popen(
        [*COMMAND, "up", "--image", "debian:bookworm-slim", "--rtt-ms", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    ports = wait_until_ready(process, timeout=120)
    servers = child_pids(process.pid)

    process.send_signal(stop_signal)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 128 + stop_signal
    assert f"stopped by {stop_signal.name}; servers stopped" in stderr
    assert "Traceback" not in stderr
    # mirror, gateway, Hub stand-in and upstream
    assert len(set(ports)) == 4
    assert len(servers) >= 2
    assert [pid for pid in servers if pid_alive(pid)] == []
    assert [port for port in set(ports) if port_open(port)] == []
    assert leftovers(env) == []


@pytest.mark.slow
def test_benchmark_runs_end_to_end(
    small_image_layout: ImageLayout, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path)

    result = run_cli(
        "benchmark",
        "--image",
        "debian:bookworm-slim",
        "--concurrency",
        "2",
        "--rtt-ms",
        "0",
        "--bandwidth-mbit",
        "0",
        "--mirror-kind",
        "gateway",
        "--output-dir",
        str(tmp_path / "out"),
        env=env,
        timeout=600,
    )

    assert result.returncode == 0, result.stderr
    assert "cold/warm" in result.stdout
    document = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    scenarios = [entry["scenario"] for entry in document["results"]]
    assert scenarios == [
        "local",
        "hub",
        "mirror-cold",
        "mirror-warm",
        "mirror-cold-concurrent",
    ]
    warm = document["results"][3]
    assert warm["mirror"] == "gateway"
    assert warm["upstream"]["counted_pulls"] == 0
    assert len(warm["wall_seconds"]) == 3
    goals = {goal["goal"]: goal for goal in document["goals"]}
    assert goals["cold_upstream_over_image"]["met"] == {"gateway": True}
    assert goals["concurrent_upstream_over_image"]["met"] == {"gateway": True}
    assert goals["concurrent_counted_per_single"]["met"] == {"gateway": True}
    checks = {check["check"]: check for check in document["checks"]}
    assert checks["start-while-upstream-down"]["passed"] is True
    assert checks["warm-while-upstream-hangs"]["passed"] is True
    assert checks["warm-while-rate-limited"]["counted_pulls"] == 0
    assert (tmp_path / "out" / "benchmark.png").read_bytes().startswith(b"\x89PNG")
    assert leftovers(env) == []
