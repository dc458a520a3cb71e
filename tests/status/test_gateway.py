"""Tests of reading a real gateway's metrics, alone and through `status`."""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from main.deploy import Kubectl
from main.errors import RegistryError
from main.gateway import GatewayServer
from main.settings import parse_settings
from main.stack.hub import HubStandin
from main.stack.ports import free_port
from main.stack.registry import RegistryServer
from main.status.collect import collect_status
from main.status.gateway import (
    GatewayFigures,
    parse_gateway_metrics,
    read_gateway_metrics,
)
from main.status.registry import Listing
from main.status.report import MirrorStatus, StatusReport, format_status
from tests.fixtures.registry import SyntheticImage, push_synthetic_image
from tests.status.test_registry import pull

SMALL_LAYERS = (2048, 512)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as http:
        yield http


@pytest.fixture
async def pulled_image(
    client: httpx.AsyncClient, upstream_registry: str, gateway_mirror: RegistryServer
) -> SyntheticImage:
    """Push an image upstream and pull it once through the mirror and gateway."""
    image = await push_synthetic_image(upstream_registry, layer_sizes=SMALL_LAYERS)
    await pull(client, gateway_mirror.base_url, image)
    await gateway_mirror.wait_for_blobs(image.name, image.layer_digests)
    return image


@pytest.mark.anyio
async def test_fresh_gateway_has_no_figures_yet(
    client: httpx.AsyncClient, gateway: GatewayServer
) -> None:
    figures = await read_gateway_metrics(client, gateway.url)

    assert figures == GatewayFigures()
    assert figures.ratelimit_remaining is None


@pytest.mark.anyio
async def test_figures_match_the_upstream_after_a_pull(
    client: httpx.AsyncClient,
    gateway: GatewayServer,
    hub_standin: HubStandin,
    pulled_image: SyntheticImage,
) -> None:
    hub = hub_standin.stats()

    figures = await read_gateway_metrics(client, gateway.url)

    assert figures.counted_pulls == hub.counted_pulls
    assert figures.counted_pulls >= 1
    assert figures.ratelimit_remaining == hub.remaining
    assert figures.ratelimit_limit == hub.limit
    assert figures.upstream_bytes >= sum(len(layer) for layer in pulled_image.layers)
    assert figures.upstream_bytes <= hub.bytes_sent
    assert figures.upstream_requests >= 3
    assert figures.upstream_errors == 0
    assert figures.answered["ok"] >= 3
    assert figures.upstream_up is True
    assert figures.digest_mismatches == 0


@pytest.mark.anyio
async def test_repeated_blob_counts_as_merged(
    client: httpx.AsyncClient, gateway: GatewayServer, pulled_image: SyntheticImage
) -> None:
    before = await read_gateway_metrics(client, gateway.url)
    digest = pulled_image.layer_digests[0]
    url = f"{gateway.url}/v2/{pulled_image.name}/blobs/{digest}"

    response = await client.get(url)
    after = await read_gateway_metrics(client, gateway.url)

    assert response.status_code == 200
    assert after.merged.get("recent", 0) == before.merged.get("recent", 0) + 1
    assert after.upstream_bytes == before.upstream_bytes


def test_labelled_counters_are_summed() -> None:
    text = "\n".join(
        [
            "# TYPE registry_mirror_gateway_requests counter",
            'registry_mirror_gateway_requests_total{kind="blob",method="GET",'
            'outcome="ok"} 4.0',
            'registry_mirror_gateway_requests_total{kind="manifest",method="HEAD",'
            'outcome="ok"} 2.0',
            'registry_mirror_gateway_requests_total{kind="manifest",method="HEAD",'
            'outcome="known_tag"} 3.0',
            "# TYPE registry_mirror_gateway_upstream_requests counter",
            'registry_mirror_gateway_upstream_requests_total{kind="blob",'
            'method="GET",status="200"} 4.0',
            'registry_mirror_gateway_upstream_requests_total{kind="manifest",'
            'method="HEAD",status="error"} 2.0',
            "# TYPE registry_mirror_gateway_upstream_up gauge",
            "registry_mirror_gateway_upstream_up 0.0",
            "# TYPE registry_mirror_gateway_ratelimit_remaining gauge",
            "registry_mirror_gateway_ratelimit_remaining 0.0",
            "",
        ]
    )

    figures = parse_gateway_metrics(text)

    assert figures.answered == {"known_tag": 3, "ok": 6}
    assert figures.upstream_requests == 6
    assert figures.upstream_errors == 2
    assert figures.upstream_up is False
    assert figures.ratelimit_remaining == 0
    assert figures.ratelimit_limit is None


def test_text_that_is_not_metrics_is_rejected() -> None:
    with pytest.raises(ValueError, match="metric name"):
        parse_gateway_metrics("<html>not found</html>\n")


@pytest.mark.anyio
async def test_unreachable_gateway_raises_registry_error(
    client: httpx.AsyncClient,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(RegistryError, match="ConnectError") as caught:
        await read_gateway_metrics(client, url)

    assert caught.value.url == f"{url}/metrics"


@pytest.mark.anyio
async def test_registry_port_is_not_a_gateway(
    client: httpx.AsyncClient, upstream_server: RegistryServer
) -> None:
    with pytest.raises(RegistryError, match="answered 404") as caught:
        await read_gateway_metrics(client, upstream_server.base_url)

    assert caught.value.status == 404


def test_report_shows_gateway_figures() -> None:
    figures = GatewayFigures(
        answered={"known_tag": 2, "ok": 40},
        merged={"in_flight": 10, "recent": 2},
        upstream_requests=30,
        upstream_errors=1,
        upstream_bytes=123456,
        counted_pulls=5,
        ratelimit_remaining=95,
        ratelimit_limit=100,
    )
    mirror = MirrorStatus(
        "docker.io", "http://m:5000", "50Gi", Listing(), gateway=figures
    )

    lines = format_status(StatusReport([mirror]))

    assert lines[4:8] == [
        "  gateway: upstream up, rate limit 95 of 100 left",
        "    answered: 42 (2 known_tag, 40 ok)",
        "    merged: 12 (10 in_flight, 2 recent)",
        "    upstream: 30 requests (1 without response), 123456 bytes, 5 counted pulls",
    ]


def test_report_shows_back_off_and_mismatches() -> None:
    figures = GatewayFigures(upstream_up=False, digest_mismatches=3)
    mirror = MirrorStatus(
        "ghcr.io", "http://m:5000", "50Gi", Listing(), gateway=figures
    )

    lines = format_status(StatusReport([mirror]))

    assert (
        lines[4]
        == "  gateway: upstream in back-off after failures, rate limit none seen"
    )
    assert lines[5] == "    answered: 0"
    assert lines[8] == "    digest mismatches: 3 upstream bodies rejected"


def _fake_kubectl(tmp_path: Path) -> Kubectl:
    folder = tmp_path / "fake"
    folder.mkdir()
    script = folder / "kubectl"
    source = (Path(__file__).parent / "fake_kubectl.py").read_text(encoding="utf-8")
    script.write_text(f"#!{sys.executable}\n{source}", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n", encoding="utf-8")
    return Kubectl(kubeconfig, binary=str(script), timeout=10.0)


@pytest.mark.anyio
async def test_port_forward_reaches_mirror_and_gateway(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gateway: GatewayServer,
    gateway_mirror: RegistryServer,
    pulled_image: SyntheticImage,
) -> None:
    settings = parse_settings({}, {"upstreams": "docker.io"})
    address = settings.service_address(settings.upstreams[0])
    debug_port = gateway_mirror.config.debug_address.rsplit(":", 1)[1]
    mirror_port = gateway_mirror.base_url.rsplit(":", 1)[1]
    ports = f"5000={mirror_port},5001={debug_port},5002={gateway.port}"
    engine = {
        "registries": {"docker.io": {"mirrors": [address]}, address: {"http": True}}
    }
    monkeypatch.setenv("FAKE_KUBECTL_PORTS", ports)
    monkeypatch.setenv("FAKE_KUBECTL_ENGINE_JSON", json.dumps(engine))
    kubectl = _fake_kubectl(tmp_path)

    report = await collect_status(settings, kubectl=kubectl)

    calls = (Path(kubectl.binary).parent / "calls.jsonl").read_text().splitlines()
    forward = json.loads(calls[0])
    mirror = report.mirrors[0]
    assert forward[-3:] == [":5000", ":5001", ":5002"]
    assert "deployment/mirror-docker-io" in forward
    assert mirror.repositories.items == (pulled_image.name,)
    assert mirror.counters is not None
    assert mirror.disk_bytes == 2048 * 1024
    assert mirror.gateway is not None
    assert mirror.gateway.counted_pulls >= 1
    assert mirror.gateway_note == ""
    assert report.engine is not None
    assert report.engine[0].uses_mirror
