"""Tests for running the real docker-registry binary on 127.0.0.1."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import anyio
import httpx
import pytest

from main.errors import StackError
from main.stack.ports import free_port
from main.stack.registry import RegistryServer, run_registry
from tests.fixtures.registry import SyntheticImage, push_synthetic_image

pytestmark = pytest.mark.anyio


def process_exists(pid: int) -> bool:
    """Return whether a process with `pid` exists, zombies included."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def fetch_manifest(base_url: str, image: SyntheticImage) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        return await client.get(
            f"{base_url}/v2/{image.name}/manifests/{image.tag}",
            headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
        )


async def test_upstream_serves_pushed_image(upstream_registry: str) -> None:
    image = await push_synthetic_image(upstream_registry)

    response = await fetch_manifest(upstream_registry, image)

    assert response.status_code == 200
    assert response.content == image.manifest
    assert response.headers["docker-content-digest"] == image.manifest_digest


async def test_health_endpoint_answers_without_auth(
    upstream_server: RegistryServer,
) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
        response = await client.get(upstream_server.health_url)

    assert response.status_code == 200
    assert response.json() == {}


async def test_mirror_health_endpoint_answers_without_auth(
    upstream_registry: str,
) -> None:
    async with (
        run_registry(upstream_registry, name="mirror") as mirror,
        httpx.AsyncClient(trust_env=False, timeout=5.0) as client,
    ):
        response = await client.get(mirror.health_url)

    assert response.status_code == 200


async def test_mirror_pulls_through_plain_upstream(upstream_registry: str) -> None:
    image = await push_synthetic_image(upstream_registry)

    async with run_registry(upstream_registry, name="mirror") as mirror:
        response = await fetch_manifest(mirror.base_url, image)

    assert response.status_code == 200
    assert response.content == image.manifest


async def test_port_in_use_is_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(StackError) as caught:
            async with run_registry(port=port, port_option="--mirror-port"):
                pass

    assert str(caught.value) == (
        f"port {port} on 127.0.0.1 is already in use; choose another with "
        "--mirror-port or stop the process using it"
    )


async def test_missing_binary_names_install_command(tmp_path: Path) -> None:
    with pytest.raises(StackError) as caught:
        async with run_registry(env={"PATH": str(tmp_path)}):
            pass

    assert str(caught.value) == (
        "docker-registry not found; install it with: apt-get install -y docker-registry"
    )


async def test_unreachable_upstream_quotes_panic() -> None:
    unused = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(StackError, match="exited during start-up") as caught:
        async with run_registry(unused, name="mirror"):
            pass

    assert "panic: Get" in str(caught.value)
    assert "connection refused" in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_process_and_temp_dir_gone_after_exit() -> None:
    async with run_registry() as server:
        pid = server.pid
        work_dir = server.config_path.parent
        assert pid is not None
        assert process_exists(pid)

    assert not process_exists(pid)
    assert not work_dir.exists()
    assert not server.running


async def test_process_gone_after_cancel() -> None:
    pids: list[int] = []
    with anyio.CancelScope() as scope:
        async with run_registry() as server:
            assert server.pid is not None
            pids.append(server.pid)
            scope.cancel()
            await anyio.sleep(5)

    assert pids
    assert not process_exists(pids[0])


async def test_caller_storage_kept_after_exit(tmp_path: Path) -> None:
    storage = tmp_path / "storage"

    async with run_registry(storage_dir=storage) as server:
        await push_synthetic_image(server.base_url)

    assert (storage / "docker" / "registry" / "v2" / "blobs").is_dir()


async def test_restart_keeps_content(upstream_server: RegistryServer) -> None:
    image = await push_synthetic_image(upstream_server.base_url)
    first_pid = upstream_server.pid

    await upstream_server.restart()
    response = await fetch_manifest(upstream_server.base_url, image)

    assert upstream_server.pid != first_pid
    assert response.status_code == 200


async def test_kill_then_start_serves_again(upstream_server: RegistryServer) -> None:
    image = await push_synthetic_image(upstream_server.base_url)
    killed_pid = upstream_server.pid
    assert killed_pid is not None

    await upstream_server.kill()
    killed_is_gone = not process_exists(killed_pid)
    await upstream_server.start()
    response = await fetch_manifest(upstream_server.base_url, image)

    assert killed_is_gone
    assert response.status_code == 200


async def test_log_captured_to_file(upstream_server: RegistryServer) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
        await client.get(f"{upstream_server.base_url}/v2/")

    assert "listening on 127.0.0.1" in upstream_server.log_path.read_text()
