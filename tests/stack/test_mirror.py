"""Tests for docker-registry as a mirror of the Docker Hub stand-in."""

from __future__ import annotations

import httpx
import pytest

from main.stack.hub import HubStandin
from main.stack.registry import RegistryServer
from tests.fixtures.registry import SyntheticImage
from tests.stack.helpers import MANIFEST_ACCEPT, blob_url, client, manifest_url

pytestmark = pytest.mark.anyio


async def pull_through(
    mirror: RegistryServer, image: SyntheticImage
) -> list[httpx.Response]:
    """Fetch the manifest, config and layers of `image` from the mirror.

    Returns once the mirror has stored every blob, so the next pull is warm.
    """
    async with client() as http:
        responses = [
            await http.get(
                manifest_url(mirror.base_url, image),
                headers={"accept": MANIFEST_ACCEPT},
            )
        ]
        for digest in image.blob_digests:
            responses.append(await http.get(blob_url(mirror.base_url, image, digest)))
    await mirror.wait_for_blobs(image.name, image.blob_digests)
    return responses


async def test_cold_pull_goes_to_upstream(
    mirror_registry: RegistryServer,
    hub_standin: HubStandin,
    synthetic_image: SyntheticImage,
) -> None:
    hub_standin.reset()

    responses = await pull_through(mirror_registry, synthetic_image)

    stats = hub_standin.stats()
    blobs = [synthetic_image.config, *synthetic_image.layers]
    assert [response.status_code for response in responses] == [200] * 5
    assert responses[0].content == synthetic_image.manifest
    assert [response.content for response in responses[1:]] == blobs
    assert stats.counted_pulls == 1
    # Distribution 2.8.2 fetches a cold blob twice, once for the client and
    # once in a background copy to storage (registry/proxy/proxyblobstore.go).
    assert stats.count("GET", "blob") == 2 * len(blobs)


async def test_warm_pull_costs_no_blobs_or_pulls(
    mirror_registry: RegistryServer,
    hub_standin: HubStandin,
    synthetic_image: SyntheticImage,
) -> None:
    await pull_through(mirror_registry, synthetic_image)
    hub_standin.reset()

    responses = await pull_through(mirror_registry, synthetic_image)

    stats = hub_standin.stats()
    assert [response.status_code for response in responses] == [200] * 5
    assert stats.count("GET", "blob") == 0
    assert stats.counted_pulls == 0


async def test_restart_keeps_mirror_cache(
    mirror_registry: RegistryServer,
    hub_standin: HubStandin,
    synthetic_image: SyntheticImage,
) -> None:
    await pull_through(mirror_registry, synthetic_image)
    hub_standin.reset()

    await mirror_registry.restart()
    responses = await pull_through(mirror_registry, synthetic_image)

    assert [response.status_code for response in responses] == [200] * 5
    assert hub_standin.stats().count("GET", "blob") == 0


async def test_mirror_serves_without_client_auth(
    mirror_registry: RegistryServer,
) -> None:
    async with client() as http:
        version = await http.get(f"{mirror_registry.base_url}/v2/")
        health = await http.get(mirror_registry.health_url)

    assert version.status_code == 200
    assert health.status_code == 200
