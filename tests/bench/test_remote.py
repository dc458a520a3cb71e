"""The remote benchmark against real servers standing in for a cluster mirror."""

from __future__ import annotations

from pathlib import Path

import pytest

from main.bench.model import HUB, MIRROR_FIRST, MIRROR_WARM, MIRROR_WARM_CONCURRENT
from main.bench.remote import parse_gateway_metrics, upstream_url_for
from main.bench.runner import run_remote_benchmark
from main.errors import UsageError
from main.oci.platform import DEFAULT_PLATFORM
from main.stack.hub import HubStandin
from main.stack.mirror_chain import MirrorChain

IMAGE = "docker.io/library/debian:bookworm-slim"


@pytest.mark.anyio
async def test_remote_benchmark_reads_gateway_metrics(
    small_image_upstream: str, hub_standin: HubStandin, tmp_path: Path
) -> None:
    async with MirrorChain("gateway", hub_standin.base_url, tmp_path) as chain:
        assert chain.gateway is not None
        run = await run_remote_benchmark(
            chain.base_url,
            hub_standin.base_url,
            chain.gateway.metrics_url,
            [IMAGE],
            platform=DEFAULT_PLATFORM,
            concurrency=3,
            warm_rounds=2,
        )

    scenarios = [result.scenario for result in run.results]
    assert scenarios == [HUB, MIRROR_FIRST, MIRROR_WARM, MIRROR_WARM_CONCURRENT]
    first = run.results[1]
    assert first.upstream.counted_pulls == 2
    assert first.upstream.bytes >= first.image_bytes
    warm = run.results[2]
    assert warm.upstream.counted_pulls == 0
    assert warm.upstream.bytes == 0
    assert len(warm.wall_seconds) == 2
    assert run.results[3].clients == 3


def test_metrics_parsing_sums_labels() -> None:
    text = "\n".join(
        [
            "# HELP registry_mirror_gateway_upstream_bytes_total bytes",
            'registry_mirror_gateway_upstream_requests_total{kind="blob"} 3.0',
            'registry_mirror_gateway_upstream_requests_total{kind="manifest"} 2.0',
            "registry_mirror_gateway_upstream_bytes_total 1234.0",
            'registry_mirror_gateway_counted_pulls_total{repository="x"} 2.0',
            "registry_mirror_gateway_ratelimit_remaining 97.0",
        ]
    )

    snapshot = parse_gateway_metrics(text)

    assert snapshot.requests == 5
    assert snapshot.bytes == 1234
    assert snapshot.counted_pulls == 2
    assert snapshot.remaining_quota == 97


def test_docker_hub_api_host() -> None:
    assert upstream_url_for("alpine") == "https://registry-1.docker.io"
    assert upstream_url_for("ghcr.io/org/x:1") == "https://ghcr.io"


@pytest.mark.anyio
async def test_remote_benchmark_rejects_bad_mirror_url() -> None:
    with pytest.raises(UsageError, match="invalid registry URL"):
        await run_remote_benchmark(
            "mirror:5000",
            None,
            None,
            [IMAGE],
            platform=DEFAULT_PLATFORM,
            concurrency=1,
            warm_rounds=1,
        )
