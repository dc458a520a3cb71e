"""Helpers of the gateway tests: pulls through a registry and metric samples."""

from __future__ import annotations

import anyio
import httpx

from main.oci.client import ClientOptions, PullResult, RegistryClient
from main.reference import parse_reference
from main.stack.registry import RegistryServer
from tests.fixtures.registry import SyntheticImage

# Short timeouts keep a failing test from hanging, and loopback responds in
# milliseconds. No retries, so request counts are exact.
CLIENT_OPTIONS = ClientOptions(
    connect_timeout=2.0, read_timeout=10.0, manifest_deadline=20.0, connect_retries=0
)


async def pull(
    http: httpx.AsyncClient, registry_url: str, name: str, tag: str
) -> PullResult:
    """Pull `name:tag` from a registry with the project's pull client."""
    client = RegistryClient(http, registry_url, options=CLIENT_OPTIONS)
    return await client.pull(parse_reference(f"{name}:{tag}"))


async def pull_many(
    http: httpx.AsyncClient, registry_url: str, name: str, tag: str, count: int
) -> list[PullResult]:
    """Run `count` pulls of one image at the same time."""
    results: list[PullResult] = []

    async def one() -> None:
        results.append(await pull(http, registry_url, name, tag))

    async with anyio.create_task_group() as task_group:
        for _ in range(count):
            task_group.start_soon(one)
    return results


async def pull_synthetic(
    http: httpx.AsyncClient, mirror: RegistryServer, image: SyntheticImage
) -> PullResult:
    """Pull a synthetic image through the mirror and wait until it is stored."""
    result = await pull(http, mirror.base_url, image.name, image.tag)
    await mirror.wait_for_blobs(image.name, image.blob_digests)
    return result


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """Return one sample from Prometheus text, 0 when the series is absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in (labels or {}).items())
    series = f"{name}{{{wanted}}}" if wanted else name
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == series:
            return float(value)
    return 0.0
