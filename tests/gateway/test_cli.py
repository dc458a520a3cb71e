"""The `registry-mirror gateway` command as a user runs it."""

from __future__ import annotations

import signal
import subprocess

import httpx
import pytest

from main.stack.ports import free_port
from tests.cli.helpers import COMMAND, run_cli

# A stop takes well under this; the limit only keeps a broken test from hanging.
STOP_SECONDS = 30


def test_gateway_command_serves_until_signal() -> None:
    port = free_port()
    # Port 9 (discard) on loopback refuses connections: the upstream is down.
    upstream = "http://127.0.0.1:9"
    args = [
        *COMMAND,
        "gateway",
        "--upstream",
        upstream,
        "--listen",
        f"127.0.0.1:{port}",
    ]
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            first_line = process.stdout.readline()
            with httpx.Client(trust_env=False, timeout=5.0) as client:
                root = client.get(f"http://127.0.0.1:{port}/v2/")
                metrics = client.get(f"http://127.0.0.1:{port}/metrics")
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=STOP_SECONDS)
        finally:
            process.kill()

    assert f"listening on 127.0.0.1:{port}" in first_line
    assert root.status_code == 200
    assert "registry_mirror_gateway_upstream_up" in metrics.text
    assert code == 130


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(
            ["--upstream", "registry-1.docker.io"], "has no scheme", id="bare-host"
        ),
        pytest.param(
            ["--upstream", "http://127.0.0.1:9", "--listen", "5001"],
            "invalid --listen value",
            id="listen-without-host",
        ),
    ],
)
def test_gateway_command_rejects_bad_input(args: list[str], fragment: str) -> None:
    result = run_cli("gateway", *args)

    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert len(lines) == 1
    assert fragment in lines[0]
