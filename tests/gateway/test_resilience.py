"""The mirror keeps serving its cache while the upstream fails, and recovers.

Each fault is injected at the Docker Hub stand-in: refused connections, held
requests, 500 responses and 429 responses to manifest GETs.
"""

from __future__ import annotations

import dataclasses

import anyio
import httpx
import pytest

from main.errors import RegistryError
from main.gateway import GatewayConfig, GatewayServer
from main.oci.client import PullResult
from main.stack.hub import HubStandin
from main.stack.hub_state import FaultMode
from main.stack.registry import RegistryServer, run_registry
from tests.fixtures.registry import SyntheticImage, push_synthetic_image
from tests.gateway.helpers import metric_value, pull, pull_synthetic

pytestmark = pytest.mark.anyio

FAULTS = [
    pytest.param(FaultMode.REFUSE, id="refuse"),
    pytest.param(FaultMode.HANG, id="hang"),
    pytest.param(FaultMode.ERROR500, id="error500"),
    pytest.param(FaultMode.RATELIMIT, id="ratelimit"),
]
# Attempts, 0.1 s apart, to pull again once the fault is gone; the gateway's
# back-off in these tests is at most 0.5 s.
RECOVERY_ATTEMPTS = 50


@pytest.fixture
def gateway_config(gateway_config: GatewayConfig) -> GatewayConfig:
    """Send every tag lookup upstream, so that each one meets the fault."""
    return dataclasses.replace(gateway_config, tag_recent_seconds=0.0)


@pytest.mark.parametrize("fault", FAULTS)
async def test_restarted_mirror_serves_cache(
    gateway_mirror: RegistryServer,
    hub_standin: HubStandin,
    synthetic_image: SyntheticImage,
    http_client: httpx.AsyncClient,
    fault: FaultMode,
) -> None:
    await pull_synthetic(http_client, gateway_mirror, synthetic_image)
    hub_standin.set_fault(fault)
    hub_standin.reset()

    await gateway_mirror.restart()
    result = await pull(
        http_client, gateway_mirror.base_url, synthetic_image.name, synthetic_image.tag
    )

    stats = hub_standin.stats()
    assert result.manifest_digest == synthetic_image.manifest_digest
    assert stats.count("GET", "blob") == 0
    assert stats.count("GET", "manifest") == 0
    assert stats.counted_pulls == 0


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(FaultMode.REFUSE, id="refuse"),
        pytest.param(FaultMode.HANG, id="hang"),
        pytest.param(FaultMode.ERROR500, id="error500"),
    ],
)
async def test_mirror_starts_and_recovers(
    gateway: GatewayServer,
    hub_standin: HubStandin,
    synthetic_image: SyntheticImage,
    http_client: httpx.AsyncClient,
    fault: FaultMode,
) -> None:
    hub_standin.set_fault(fault)

    async with run_registry(gateway.url, name="mirror") as mirror:
        # Distribution 2.8 reports a tag it cannot resolve upstream or locally
        # as "manifest unknown", whatever the upstream's error was.
        with pytest.raises(RegistryError):
            await pull(http_client, mirror.base_url, synthetic_image.name, "latest")
        hub_standin.set_fault(FaultMode.NORMAL)
        result = await _pull_until_success(http_client, mirror, synthetic_image)

    assert result is not None
    assert result.manifest_digest == synthetic_image.manifest_digest


async def test_rate_limited_warm_pull_spends_no_pull(
    gateway_mirror: RegistryServer,
    gateway: GatewayServer,
    hub_standin: HubStandin,
    synthetic_image: SyntheticImage,
    http_client: httpx.AsyncClient,
) -> None:
    await pull_synthetic(http_client, gateway_mirror, synthetic_image)
    hub_standin.reset(limit=0)

    result = await pull(
        http_client, gateway_mirror.base_url, synthetic_image.name, synthetic_image.tag
    )

    stats = hub_standin.stats()
    assert result.manifest_digest == synthetic_image.manifest_digest
    assert stats.count("GET", "manifest") == 0
    assert stats.counted_pulls == 0


async def test_uncached_image_fails_with_rate_limit(
    gateway_mirror: RegistryServer,
    gateway: GatewayServer,
    hub_standin: HubStandin,
    upstream_registry: str,
    http_client: httpx.AsyncClient,
) -> None:
    image = await push_synthetic_image(upstream_registry, name="library/uncached")
    hub_standin.reset(limit=0)

    with pytest.raises(RegistryError):
        await pull(http_client, gateway_mirror.base_url, image.name, image.tag)
    # A HEAD response has no body, so the reason is in the body of a GET.
    path = f"/v2/{image.name}/manifests/{image.tag}"
    through_mirror = await http_client.get(f"{gateway_mirror.base_url}{path}")
    direct = await http_client.get(f"{gateway.url}{path}")

    assert through_mirror.status_code >= 400
    assert "rate limit" in through_mirror.text
    assert direct.status_code == 429
    assert "rate limit" in direct.json()["errors"][0]["message"]
    # The gateway sent one GET upstream and refused the later ones itself.
    assert hub_standin.stats().count("GET", "manifest") == 1


async def test_hung_upstream_answers_tag_from_known_tags(
    gateway_mirror: RegistryServer,
    gateway: GatewayServer,
    hub_standin: HubStandin,
    synthetic_image: SyntheticImage,
    http_client: httpx.AsyncClient,
) -> None:
    await pull_synthetic(http_client, gateway_mirror, synthetic_image)
    hub_standin.set_fault(FaultMode.HANG)

    response = await http_client.head(
        f"{gateway.url}/v2/{synthetic_image.name}/manifests/{synthetic_image.tag}",
        headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    metrics = (await http_client.get(gateway.metrics_url)).text

    assert response.status_code == 200
    assert response.headers["docker-content-digest"] == synthetic_image.manifest_digest
    assert int(response.headers["content-length"]) == len(synthetic_image.manifest)
    answers = metric_value(
        metrics,
        "registry_mirror_gateway_known_tag_answers_total",
        {"reason": "timed out"},
    )
    assert answers == 1


async def _pull_until_success(
    http: httpx.AsyncClient, mirror: RegistryServer, image: SyntheticImage
) -> PullResult | None:
    for _ in range(RECOVERY_ATTEMPTS):
        try:
            return await pull(http, mirror.base_url, image.name, image.tag)
        except RegistryError:
            await anyio.sleep(0.1)
    return None
