"""Cold and concurrent pulls through a mirror whose upstream side is the gateway.

Plain distribution 2.8.2 fetches each cold blob twice and once more per
concurrent client. Through the gateway every blob and manifest crosses the
upstream link once.
"""

from __future__ import annotations

import httpx
import pytest

from main.gateway import GatewayServer
from main.stack.hub import HubStandin
from main.stack.images import SMALL_IMAGE
from main.stack.registry import RegistryServer
from tests.fixtures.registry import SyntheticImage
from tests.gateway.helpers import metric_value, pull, pull_many, pull_synthetic

pytestmark = pytest.mark.anyio

CONCURRENT_PULLS = 16


async def test_cold_pull_fetches_each_blob_once(
    gateway_mirror: RegistryServer,
    hub_standin: HubStandin,
    synthetic_image: SyntheticImage,
    http_client: httpx.AsyncClient,
) -> None:
    hub_standin.reset()

    await pull_synthetic(http_client, gateway_mirror, synthetic_image)

    stats = hub_standin.stats()
    assert stats.bytes_sent <= 1.01 * synthetic_image.total_size
    assert stats.count("GET", "blob") == len(synthetic_image.blob_digests)
    assert stats.count("GET", "manifest") == 1
    assert stats.counted_pulls == 1


async def test_concurrent_cold_pulls_share_fetches(
    gateway_mirror: RegistryServer,
    hub_standin: HubStandin,
    synthetic_image: SyntheticImage,
    http_client: httpx.AsyncClient,
) -> None:
    hub_standin.reset()

    results = await pull_many(
        http_client,
        gateway_mirror.base_url,
        synthetic_image.name,
        synthetic_image.tag,
        CONCURRENT_PULLS,
    )
    await gateway_mirror.wait_for_blobs(
        synthetic_image.name, synthetic_image.blob_digests
    )

    stats = hub_standin.stats()
    assert len(results) == CONCURRENT_PULLS
    assert stats.bytes_sent <= 1.05 * synthetic_image.total_size
    assert stats.count("GET", "blob") == len(synthetic_image.blob_digests)
    assert stats.count("GET", "manifest") == 1
    assert stats.counted_pulls == 1


async def test_warm_pull_sends_no_content_upstream(
    gateway_mirror: RegistryServer,
    hub_standin: HubStandin,
    synthetic_image: SyntheticImage,
    http_client: httpx.AsyncClient,
) -> None:
    await pull_synthetic(http_client, gateway_mirror, synthetic_image)
    hub_standin.reset()

    await pull(http_client, gateway_mirror.base_url, synthetic_image.name, "latest")

    stats = hub_standin.stats()
    assert stats.count("GET", "blob") == 0
    assert stats.count("GET", "manifest") == 0
    assert stats.counted_pulls == 0


@pytest.mark.slow
async def test_real_image_cold_pull_fetches_once(
    small_image_upstream: str,
    gateway_mirror: RegistryServer,
    hub_standin: HubStandin,
    http_client: httpx.AsyncClient,
) -> None:
    hub_standin.reset()

    result = await pull(
        http_client, gateway_mirror.base_url, SMALL_IMAGE.repository, SMALL_IMAGE.tag
    )
    await gateway_mirror.wait_for_blobs(SMALL_IMAGE.repository, list(result.blob_sizes))

    stats = hub_standin.stats()
    assert stats.bytes_sent <= 1.01 * result.total_bytes
    # One counted pull each for the index and the platform's manifest.
    assert stats.counted_pulls == 2


@pytest.mark.slow
async def test_real_image_concurrent_pulls_fetch_once(
    small_image_upstream: str,
    gateway_mirror: RegistryServer,
    gateway: GatewayServer,
    hub_standin: HubStandin,
    http_client: httpx.AsyncClient,
) -> None:
    hub_standin.reset()

    results = await pull_many(
        http_client,
        gateway_mirror.base_url,
        SMALL_IMAGE.repository,
        SMALL_IMAGE.tag,
        CONCURRENT_PULLS,
    )

    stats = hub_standin.stats()
    metrics = (await http_client.get(gateway.metrics_url)).text
    assert len(results) == CONCURRENT_PULLS
    assert stats.bytes_sent <= 1.05 * results[0].total_bytes
    assert stats.count("GET", "manifest") == 2
    assert stats.counted_pulls == 2
    assert metric_value(metrics, "registry_mirror_gateway_counted_pulls_total") == 2
