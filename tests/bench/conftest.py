import pytest

from main.bench.model import (
    HUB,
    LOCAL,
    MIRROR_COLD,
    MIRROR_COLD_CONCURRENT,
    MIRROR_WARM,
    BenchmarkRun,
    BenchmarkSettings,
    ScenarioResult,
    UpstreamUsage,
)

IMAGE = "library/debian:bookworm-slim"
IMAGE_BYTES = 30_000_000


def make_result(
    scenario: str,
    seconds: tuple[float, ...],
    upstream_bytes: int = 0,
    counted: int = 0,
    clients: int = 1,
    mirror: str | None = None,
) -> ScenarioResult:
    return ScenarioResult(
        scenario=scenario,
        image=IMAGE,
        clients=clients,
        wall_seconds=seconds,
        client_bytes=IMAGE_BYTES * clients,
        image_bytes=IMAGE_BYTES,
        upstream=UpstreamUsage(
            requests=4, bytes=upstream_bytes, counted_pulls=counted, remaining_quota=97
        ),
        mirror=mirror,
    )


@pytest.fixture
def sample_run() -> BenchmarkRun:
    settings = BenchmarkSettings(
        images=(IMAGE,),
        platform="linux/amd64",
        concurrency=8,
        warm_rounds=3,
        rtt_ms=20,
        bandwidth_mbit=100,
        mirrors=("plain",),
    )
    return BenchmarkRun(
        settings=settings,
        results=[
            make_result(LOCAL, (0.5,)),
            make_result(HUB, (3.0,), upstream_bytes=IMAGE_BYTES, counted=1),
            make_result(
                MIRROR_COLD,
                (6.0,),
                upstream_bytes=2 * IMAGE_BYTES,
                counted=1,
                mirror="plain",
            ),
            make_result(MIRROR_WARM, (0.9, 0.5, 0.6), mirror="plain"),
            make_result(
                MIRROR_COLD_CONCURRENT,
                (9.0,),
                upstream_bytes=8 * IMAGE_BYTES,
                counted=8,
                clients=8,
                mirror="plain",
            ),
        ],
    )
