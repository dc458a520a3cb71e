"""The `registry-mirror gateway` command as a user runs it."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import anyio
import anyio.abc
import httpx
import pytest

from main.stack.ports import free_port
from tests.cli.helpers import COMMAND, run_cli
from tests.fixtures.registry import OCI_MANIFEST, SyntheticImage

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


@pytest.mark.parametrize(
    ("option", "make_path"),
    [
        pytest.param("--spool-dir", "file", id="spool-dir-is-file"),
        pytest.param("--state-dir", "file", id="state-dir-is-file"),
        pytest.param("--spool-dir", "under-file", id="spool-dir-under-file"),
        pytest.param("--state-dir", "under-file", id="state-dir-under-file"),
    ],
)
def test_gateway_command_rejects_unusable_folder(
    tmp_path: Path, option: str, make_path: str
) -> None:
    regular_file = tmp_path / "folder"
    regular_file.write_text("a regular file\n")
    path = regular_file if make_path == "file" else regular_file / "sub"

    result = run_cli("gateway", "--upstream", "http://127.0.0.1:9", option, str(path))

    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert len(lines) == 1
    assert option in lines[0]
    assert str(path) in lines[0]


@pytest.mark.anyio
async def test_gateway_command_survives_spool_failure(
    synthetic_image: SyntheticImage, upstream_registry: str, tmp_path: Path
) -> None:
    port = free_port()
    spool = tmp_path / "missing" / "spool"
    log = tmp_path / "stderr.log"
    url = f"http://127.0.0.1:{port}"
    manifest_url = f"{url}/v2/{synthetic_image.name}/manifests/{synthetic_image.tag}"
    accept = {"Accept": OCI_MANIFEST}
    args = [
        *COMMAND,
        "gateway",
        *("--upstream", upstream_registry),
        *("--listen", f"127.0.0.1:{port}"),
        *("--spool-dir", str(spool)),
        *("--state-dir", str(tmp_path / "state")),
    ]

    with log.open("wb") as stderr:
        process = await anyio.open_process(args, stderr=stderr)
    async with process, httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        try:
            first_line = await read_line(process)
            spool.rmdir()
            failed = await client.get(manifest_url, headers=accept)
            health = await client.get(f"{url}/healthz")
            exit_code_after_failure = process.returncode
            spool.mkdir()
            served = await client.get(manifest_url, headers=accept)
            process.send_signal(signal.SIGINT)
            with anyio.fail_after(STOP_SECONDS):
                code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
    errors = log.read_text()

    assert f"listening on 127.0.0.1:{port}" in first_line
    assert failed.status_code == 500
    assert failed.json()["errors"][0]["code"] == "UNKNOWN"
    assert health.status_code == 200
    assert exit_code_after_failure is None
    assert served.status_code == 200
    assert served.content == synthetic_image.manifest
    assert code == 130
    assert "Traceback" not in errors
    assert errors.count(f"/v2/{synthetic_image.name}/manifests/") == 1


async def read_line(process: anyio.abc.Process) -> str:
    """Read the first line that the process prints on stdout."""
    assert process.stdout is not None
    received = b""
    with anyio.fail_after(STOP_SECONDS):
        while b"\n" not in received:
            received += await process.stdout.receive()
    return received.decode()
