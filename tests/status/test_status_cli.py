"""Tests of `registry-mirror status` against a real mirror on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from main.cli.app import run
from main.gateway import GatewayServer
from main.stack.ports import free_port
from main.stack.registry import RegistryServer, run_registry
from tests.fixtures.registry import push_synthetic_image
from tests.status.test_legacy import BLOG_CONFIG
from tests.status.test_registry import pull

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = [f"--settings={ROOT / 'registry-mirror.toml'}", "--set=upstreams=docker.io"]


@pytest.fixture
async def filled_mirror(upstream_registry: str) -> AsyncIterator[RegistryServer]:
    """A mirror of the upstream that has pulled library/synthetic:latest."""
    image = await push_synthetic_image(upstream_registry, layer_sizes=(512,))
    async with (
        run_registry(upstream_registry, name="mirror") as mirror,
        httpx.AsyncClient(trust_env=False, timeout=10.0) as client,
    ):
        await pull(client, mirror.base_url, image)
        for _ in range(40):
            catalog = await client.get(f"{mirror.base_url}/v2/_catalog")
            if catalog.json()["repositories"]:
                break
            await anyio.sleep(0.25)
        yield mirror


async def _status(
    args: list[str], capsys: pytest.CaptureFixture[str], expected_code: int = 0
) -> list[str]:
    code = await anyio.to_thread.run_sync(run, ["status", *SETTINGS, *args])
    assert code == expected_code, capsys.readouterr().err
    return capsys.readouterr().out.splitlines()


@pytest.mark.anyio
async def test_status_lists_what_the_mirror_holds(
    filled_mirror: RegistryServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)

    lines = await _status([f"--mirror=docker.io={filled_mirror.base_url}"], capsys)

    assert lines[0] == f"mirror for docker.io at {filled_mirror.base_url}:"
    assert lines[1] == "  repositories: 1"
    assert lines[2] == "    library/synthetic (1 tags upstream: latest)"
    assert lines[3] == "  disk use: unknown (volume size 50Gi)"
    assert lines[4] == "  served since start: unknown"
    assert lines[5] == "  note: pass --kubeconfig to read the counters and disk use"
    assert (
        lines[6] == "  gateway: unknown: pass --kubeconfig, or --gateway REGISTRY=URL"
    )
    assert lines[7:] == [
        "engine:",
        "  not checked: pass --kubeconfig to read engine.json",
    ]


@pytest.mark.anyio
async def test_status_prints_gateway_metrics(
    gateway: GatewayServer,
    gateway_mirror: RegistryServer,
    upstream_registry: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    image = await push_synthetic_image(upstream_registry, layer_sizes=(512,))
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        await pull(client, gateway_mirror.base_url, image)

    lines = await _status(
        [
            f"--mirror=docker.io={gateway_mirror.base_url}",
            f"--gateway=docker.io={gateway.url}",
        ],
        capsys,
    )

    assert lines[6] == "  gateway: upstream up, rate limit 99 of 100 left"
    assert lines[7].startswith("    answered: ")
    assert lines[8].startswith("    merged: ")
    assert lines[9].startswith("    upstream: ")
    assert lines[9].endswith(", 1 counted pulls")


def test_status_rejects_gateway_without_registry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = run(["status", *SETTINGS, "--gateway=http://127.0.0.1:5002"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("registry-mirror: error: invalid --gateway")
    assert err.count("\n") == 1


@pytest.mark.anyio
async def test_status_explains_legacy_config(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    legacy = tmp_path / "buildkitd.toml"
    legacy.write_text(BLOG_CONFIG, encoding="utf-8")
    closed = f"http://127.0.0.1:{free_port()}"

    lines = await _status(
        [f"--legacy-config={legacy}", f"--mirror=docker.io={closed}"],
        capsys,
        expected_code=1,
    )

    assert lines[0] == f"{legacy}: 4 problems"
    assert lines[1].startswith("  1. mounted at /etc/buildkit/buildkitd.toml")
    assert any("ConnectError" in line for line in lines)


def test_status_rejects_mirror_without_registry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = run(["status", *SETTINGS, "--mirror=http://127.0.0.1:5000"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("registry-mirror: error: invalid --mirror")
    assert err.count("\n") == 1


@pytest.mark.anyio
async def test_status_fails_when_mirror_unreachable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    closed = f"http://127.0.0.1:{free_port()}"

    code = await anyio.to_thread.run_sync(
        run, ["status", *SETTINGS, f"--mirror=docker.io={closed}"]
    )

    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert code == 1
    assert captured.out.startswith(f"mirror for docker.io at {closed}:\n")
    assert "  repositories: unknown: " in captured.out
    assert len(errors) == 1
    assert errors[0].startswith("registry-mirror: error: 1 of 1 mirrors could not")
    assert "(docker.io)" in errors[0]


@pytest.mark.anyio
async def test_status_reads_only_given_registries(
    filled_mirror: RegistryServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    settings = [
        f"--settings={ROOT / 'registry-mirror.toml'}",
        "--set=upstreams=docker.io,ghcr.io,quay.io",
    ]

    code = await anyio.to_thread.run_sync(
        run, ["status", *settings, f"--mirror=docker.io={filled_mirror.base_url}"]
    )

    lines = capsys.readouterr().out.splitlines()
    headings = [line for line in lines if line.startswith("mirror for ")]
    assert code == 0
    assert headings == [f"mirror for docker.io at {filled_mirror.base_url}:"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(
            ["--mirror=docker.io=notaurl"],
            "invalid registry URL 'notaurl'",
            id="mirror-not-a-url",
        ),
        pytest.param(
            ["--mirror=docker.io=http://127.0.0.1:9", "--gateway=docker.io=notaurl"],
            "invalid registry URL 'notaurl'",
            id="gateway-not-a-url",
        ),
        pytest.param(
            ["--mirror=docker.io=http://127.0.0.1:9", "--mirror=gcr.io=http://h:1"],
            "invalid --mirror registry 'gcr.io'",
            id="mirror-unknown-registry",
        ),
        pytest.param(
            ["--mirror=docker.io=http://127.0.0.1:9", "--gateway=gcr.io=http://h:1"],
            "invalid --gateway registry 'gcr.io'",
            id="gateway-unknown-registry",
        ),
    ],
)
def test_status_rejects_input_before_any_output(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    fragment: str,
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    legacy = tmp_path / "buildkitd.toml"
    legacy.write_text(BLOG_CONFIG, encoding="utf-8")

    code = run(["status", *SETTINGS, f"--legacy-config={legacy}", *args])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert fragment in captured.err
