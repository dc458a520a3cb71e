"""Bad input ends in one line on stderr, a non-zero exit and no traceback."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.helpers import run_cli


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(
            ["--image", "library/nope:1"],
            ["library/nope:1", "not in the embedded upstream", "choose one of"],
            id="unknown-image",
        ),
        pytest.param(
            ["--image", "Debian:Bookworm"],
            ["Debian:Bookworm"],
            id="upper-case-reference",
        ),
        pytest.param(
            ["--image", "debian@sha256:xyz"],
            ["sha256:xyz"],
            id="bad-digest",
        ),
        pytest.param(
            ["--image", "ghcr.io/org/tool:1"],
            ["ghcr.io/org/tool:1", "not in the embedded upstream"],
            id="other-registry",
        ),
        pytest.param(["--concurrency", "0"], ["--concurrency"], id="zero-clients"),
        pytest.param(["--rtt-ms", "-5"], ["--rtt-ms"], id="negative-rtt"),
        pytest.param(["--platform", "linux"], ["linux"], id="bad-platform"),
        pytest.param(
            ["--mirror-port", "7000", "--hub-port", "7000"],
            ["--hub-port and --mirror-port both ask for port 7000"],
            id="same-port-twice",
        ),
        pytest.param(["--rtt-ms", "inf"], ["--rtt-ms inf"], id="infinite-rtt"),
        pytest.param(["--rtt-ms", "nan"], ["--rtt-ms nan"], id="nan-rtt"),
        pytest.param(
            ["--bandwidth-mbit", "1e-9"],
            ["--bandwidth-mbit 1e-09", "0 for unlimited"],
            id="crawling-bandwidth",
        ),
        pytest.param(
            ["--upstream", "http://127.0.0.1:1"],
            ["--upstream and --metrics-url apply only to a running mirror"],
            id="upstream-without-mirror",
        ),
        pytest.param(
            ["--mirror", "mirror:5000"],
            ["invalid registry URL", "http"],
            id="mirror-without-scheme",
        ),
        pytest.param(
            ["--mirror-kind", "fancy"],
            ["invalid --mirror-kind 'fancy'", "plain, gateway"],
            id="unknown-mirror-kind",
        ),
    ],
)
def test_benchmark_rejects_bad_input(
    args: list[str], fragments: list[str], tmp_path: Path
) -> None:
    result = run_cli("benchmark", "--output-dir", str(tmp_path / "out"), *args)

    assert result.returncode == 2
    assert_one_line_error(result.stderr, *fragments)
    assert not (tmp_path / "out").exists()


def test_output_dir_under_file_rejected(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    result = run_cli("benchmark", "--output-dir", str(blocker / "out"))

    assert result.returncode == 2
    assert_one_line_error(result.stderr, str(blocker / "out"), "--output-dir")


def test_port_in_use_rejected(busy_port: int, tmp_path: Path) -> None:
    result = run_cli(
        "up",
        "--image",
        "debian:bookworm-slim",
        "--mirror-port",
        str(busy_port),
        "--image-cache",
        str(tmp_path / "images"),
    )

    assert result.returncode == 1
    assert_one_line_error(result.stderr, str(busy_port), "--mirror-port")


def test_missing_registry_binary_names_install(tmp_path: Path) -> None:
    env = dict(os.environ)
    # A PATH with the Python interpreter's folder only: no docker-registry.
    env["PATH"] = str(Path(os.sys.executable).parent)

    result = run_cli("up", "--image", "debian:bookworm-slim", env=env)

    assert result.returncode == 1
    assert_one_line_error(
        result.stderr, "docker-registry not found", "apt-get install -y docker-registry"
    )


def test_no_command_shows_help_as_usage_error() -> None:
    result = run_cli()

    assert result.returncode == 2
    assert "Usage" in result.stdout
