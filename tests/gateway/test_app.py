"""The gateway's own endpoints: the API root, health, metrics and input checks."""

from __future__ import annotations

import httpx
import pytest

from main.gateway import GatewayServer
from main.stack.hub import HubStandin
from main.stack.hub_state import FaultMode
from main.stack.registry import RegistryServer
from tests.fixtures.registry import SyntheticImage
from tests.gateway.helpers import metric_value, pull_synthetic

pytestmark = pytest.mark.anyio

PREFIX = "registry_mirror_gateway"


async def test_api_root_answers_while_upstream_refuses(
    gateway: GatewayServer, hub_standin: HubStandin, http_client: httpx.AsyncClient
) -> None:
    hub_standin.set_fault(FaultMode.REFUSE)

    root = await http_client.get(f"{gateway.url}/v2/")
    health = await http_client.get(gateway.health_url)

    assert root.status_code == 200
    assert root.headers["docker-distribution-api-version"] == "registry/2.0"
    assert health.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/v2/Library/Debian/manifests/latest", id="upper-case-name"),
        pytest.param("/v2/library/debian/manifests/bad:tag", id="bad-reference"),
        pytest.param("/v2/library/debian/blobs/sha256:abc", id="short-digest"),
    ],
)
async def test_invalid_request_is_rejected(
    gateway: GatewayServer,
    hub_standin: HubStandin,
    http_client: httpx.AsyncClient,
    path: str,
) -> None:
    hub_standin.reset()

    response = await http_client.get(f"{gateway.url}{path}")

    assert response.status_code == 400
    assert hub_standin.stats().requests_total == 0


async def test_metrics_count_a_cold_pull(
    gateway_mirror: RegistryServer,
    gateway: GatewayServer,
    hub_standin: HubStandin,
    synthetic_image: SyntheticImage,
    http_client: httpx.AsyncClient,
) -> None:
    hub_standin.reset()

    await pull_synthetic(http_client, gateway_mirror, synthetic_image)
    response = await http_client.get(gateway.metrics_url)

    text = response.text
    blob_count = len(synthetic_image.blob_digests)
    blob_gets = {"kind": "blob", "method": "GET", "status": "200"}
    assert response.headers["content-type"].startswith("text/plain")
    assert metric_value(text, f"{PREFIX}_counted_pulls_total") == 1
    assert metric_value(text, f"{PREFIX}_upstream_requests_total", blob_gets) == (
        blob_count
    )
    assert metric_value(text, f"{PREFIX}_upstream_bytes_total") == (
        synthetic_image.total_size
    )
    assert metric_value(text, f"{PREFIX}_ratelimit_remaining") == 99
    assert metric_value(text, f"{PREFIX}_ratelimit_limit") == 100
    assert metric_value(text, f"{PREFIX}_upstream_up") == 1
    merged = metric_value(
        text, f"{PREFIX}_merged_requests_total", {"kind": "blob", "source": "in_flight"}
    ) + metric_value(
        text, f"{PREFIX}_merged_requests_total", {"kind": "blob", "source": "recent"}
    )
    # Distribution requests each cold blob at least twice: the copy to its
    # storage and the stream to the client.
    assert merged >= blob_count
