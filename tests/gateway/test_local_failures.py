"""A failure inside the gateway fails one request and never stops the server.

The faults are local to the gateway: a spool folder that cannot hold files,
and an upstream transport that raises an exception httpx does not wrap. The
upstream is the real docker-registry holding a synthetic image.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import httpx
import pytest

from main.gateway import GatewayConfig, GatewayServer, run_gateway
from tests.fixtures.registry import (
    OCI_MANIFEST,
    SyntheticImage,
    push_synthetic_image,
)

pytestmark = pytest.mark.anyio


class ExplodingTransport(httpx.AsyncBaseTransport):
    """Transport that raises an error of no httpx type, as a bug would."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        msg = "transport failure injected by the test"
        raise RuntimeError(msg)


@pytest.fixture
def direct_config(
    gateway_config: GatewayConfig, upstream_registry: str
) -> GatewayConfig:
    """Point the gateway straight at the plain upstream registry."""
    return dataclasses.replace(gateway_config, upstream_url=upstream_registry)


def manifest_path(image: SyntheticImage) -> str:
    return f"/v2/{image.name}/manifests/{image.tag}"


async def get_manifest(
    client: httpx.AsyncClient, server: GatewayServer, image: SyntheticImage
) -> httpx.Response:
    url = f"{server.url}{manifest_path(image)}"
    return await client.get(url, headers={"Accept": OCI_MANIFEST})


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["code"]
    return code


def error_records(caplog: pytest.LogCaptureFixture, path: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.ERROR and path in record.getMessage()
    ]


async def test_spool_failure_fails_one_request(
    direct_config: GatewayConfig,
    synthetic_image: SyntheticImage,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    not_a_folder = tmp_path / "spool"
    not_a_folder.write_text("a regular file\n")
    config = dataclasses.replace(direct_config, spool_dir=not_a_folder)

    async with (
        run_gateway(config) as server,
        httpx.AsyncClient(trust_env=False, timeout=10.0) as client,
    ):
        failed = await get_manifest(client, server, synthetic_image)
        health = await client.get(server.health_url)
        head = await client.head(
            f"{server.url}{manifest_path(synthetic_image)}",
            headers={"Accept": OCI_MANIFEST},
        )

    assert failed.status_code == 500
    assert error_code(failed) == "UNKNOWN"
    assert "spool" in failed.json()["errors"][0]["message"]
    assert health.status_code == 200
    assert head.status_code == 200
    assert head.headers["docker-content-digest"] == synthetic_image.manifest_digest
    assert len(error_records(caplog, manifest_path(synthetic_image))) == 1


async def test_spool_removed_after_start(
    direct_config: GatewayConfig,
    synthetic_image: SyntheticImage,
    tmp_path: Path,
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    config = dataclasses.replace(direct_config, spool_dir=spool)

    async with (
        run_gateway(config) as server,
        httpx.AsyncClient(trust_env=False, timeout=10.0) as client,
    ):
        spool.rmdir()
        failed = await get_manifest(client, server, synthetic_image)
        spool.mkdir()
        served = await get_manifest(client, server, synthetic_image)

    assert failed.status_code == 500
    assert served.status_code == 200
    assert served.content == synthetic_image.manifest


async def test_unexpected_flight_error_fails_one_request(
    direct_config: GatewayConfig,
    synthetic_image: SyntheticImage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with (
        run_gateway(direct_config, transport=ExplodingTransport()) as server,
        httpx.AsyncClient(trust_env=False, timeout=10.0) as client,
    ):
        failed = await get_manifest(client, server, synthetic_image)
        ping = await client.get(f"{server.url}/v2/")

    assert failed.status_code == 500
    assert error_code(failed) == "UNKNOWN"
    assert ping.status_code == 200
    assert len(error_records(caplog, manifest_path(synthetic_image))) == 1


async def test_unexpected_handler_error_fails_one_request(
    direct_config: GatewayConfig,
    synthetic_image: SyntheticImage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = f"/v2/{synthetic_image.name}/tags/list"

    async with (
        run_gateway(direct_config, transport=ExplodingTransport()) as server,
        httpx.AsyncClient(trust_env=False, timeout=10.0) as client,
    ):
        failed = await client.get(f"{server.url}{path}")
        ping = await client.get(f"{server.url}/v2/")

    assert failed.status_code == 500
    assert error_code(failed) == "UNKNOWN"
    assert ping.status_code == 200
    assert len(error_records(caplog, path)) == 1


async def test_known_tags_write_failure_keeps_serving(
    direct_config: GatewayConfig,
    synthetic_image: SyntheticImage,
    upstream_registry: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = await push_synthetic_image(upstream_registry, tag="other")
    state = tmp_path / "state"
    state.mkdir()
    config = dataclasses.replace(direct_config, state_dir=state)

    async with (
        run_gateway(config) as server,
        httpx.AsyncClient(trust_env=False, timeout=10.0) as client,
    ):
        state.rmdir()
        state.write_text("a regular file where the state folder was\n")
        first = await get_manifest(client, server, synthetic_image)
        second = await get_manifest(client, server, other)
        known = server.gateway.known_tags.get(other.name, other.tag)

    assert first.status_code == 200
    assert second.status_code == 200
    assert known is not None
    assert known.digest == other.manifest_digest
    assert len(error_records(caplog, str(state))) == 1
