"""A blob whose upstream bytes do not match its digest never reaches the mirror."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from main.errors import RegistryError
from main.gateway import GatewayConfig, GatewayServer, run_gateway
from main.stack.hub import HubSettings, run_hub
from main.stack.registry import RegistryServer, run_registry
from tests.fixtures.registry import SyntheticImage, push_synthetic_image
from tests.gateway.helpers import metric_value, pull

pytestmark = pytest.mark.anyio


@pytest.fixture
async def corrupted_chain(
    upstream_server: RegistryServer, hub_settings: HubSettings, tmp_path: Path
) -> AsyncIterator[tuple[RegistryServer, GatewayServer, SyntheticImage]]:
    """Push an image, overwrite its largest layer upstream, run the chain.

    The overwrite keeps the size, so only the digest check can catch it.
    """
    image = await push_synthetic_image(upstream_server.base_url)
    layer = _blob_path(upstream_server, image.layer_digests[-1])
    layer.write_bytes(os.urandom(layer.stat().st_size))
    async with (
        run_hub(upstream_server.base_url, hub_settings) as hub,
        run_gateway(GatewayConfig(hub.base_url, use_env_proxy=False)) as gateway,
        run_registry(gateway.url, name="mirror") as mirror,
    ):
        yield mirror, gateway, image


async def test_corrupted_blob_is_not_stored(
    corrupted_chain: tuple[RegistryServer, GatewayServer, SyntheticImage],
    http_client: httpx.AsyncClient,
) -> None:
    mirror, gateway, image = corrupted_chain
    corrupted = image.layer_digests[-1]

    with pytest.raises(RegistryError):
        await pull(http_client, mirror.base_url, image.name, image.tag)
    with pytest.raises(RegistryError):
        await pull(http_client, mirror.base_url, image.name, image.tag)

    metrics = (await http_client.get(gateway.metrics_url)).text
    assert not mirror.has_blob(image.name, corrupted)
    # At least one rejection per pull: a failed fetch is never reused, so a
    # request that arrives after the rejection fetches and rejects again.
    assert metric_value(metrics, "registry_mirror_gateway_digest_mismatches_total") >= 2


def _blob_path(registry: RegistryServer, digest: str) -> Path:
    algorithm, _, encoded = digest.partition(":")
    return (
        registry.storage_dir
        / "docker/registry/v2/blobs"
        / algorithm
        / encoded[:2]
        / encoded
        / "data"
    )
