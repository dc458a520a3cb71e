"""Tests of the paged registry listing and proxy counters, on real registries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from main.stack.ports import free_port
from main.stack.registry import RegistryServer, run_registry
from main.status.registry import list_repositories, list_tags, read_proxy_counters
from tests.fixtures.registry import OCI_MANIFEST, SyntheticImage, push_synthetic_image

SMALL_LAYERS = (512,)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as http:
        yield http


@pytest.fixture
async def five_repositories(upstream_registry: str) -> str:
    for index in range(5):
        await push_synthetic_image(
            upstream_registry, name=f"team/app{index}", layer_sizes=SMALL_LAYERS
        )
    return upstream_registry


@pytest.mark.anyio
async def test_catalog_follows_next_links(
    client: httpx.AsyncClient, five_repositories: str
) -> None:
    listing = await list_repositories(client, five_repositories, page_size=2)

    assert listing.items == tuple(f"team/app{index}" for index in range(5))
    assert listing.complete
    assert listing.error is None


@pytest.mark.anyio
async def test_catalog_stops_after_max_pages(
    client: httpx.AsyncClient, five_repositories: str
) -> None:
    listing = await list_repositories(
        client, five_repositories, page_size=1, max_pages=2
    )

    assert listing.items == ("team/app0", "team/app1")
    assert not listing.complete


@pytest.mark.anyio
async def test_page_size_over_registry_limit_is_explained(
    client: httpx.AsyncClient, five_repositories: str
) -> None:
    # distribution 2.8 returns 400 for n above catalog.maxentries (1000).
    listing = await list_repositories(client, five_repositories, page_size=10000)

    assert listing.items == ()
    assert not listing.complete
    assert listing.error is not None
    assert "answered 400 Bad Request" in listing.error
    assert "retry with a smaller --page-size" in listing.error


@pytest.mark.anyio
async def test_tags_of_one_repository(
    client: httpx.AsyncClient, upstream_registry: str
) -> None:
    for tag in ("1.0", "1.1", "latest"):
        await push_synthetic_image(
            upstream_registry, name="team/tool", tag=tag, layer_sizes=SMALL_LAYERS
        )

    listing = await list_tags(client, upstream_registry, "team/tool", page_size=2)

    assert sorted(listing.items) == ["1.0", "1.1", "latest"]


@pytest.mark.anyio
async def test_unreachable_registry_is_an_error(client: httpx.AsyncClient) -> None:
    base_url = f"http://127.0.0.1:{free_port()}"

    listing = await list_repositories(client, base_url)

    assert listing.items == ()
    assert listing.error is not None
    assert "ConnectError" in listing.error


@pytest.fixture
async def mirror(upstream_registry: str) -> AsyncIterator[RegistryServer]:
    async with run_registry(upstream_registry, name="mirror") as server:
        yield server


@pytest.mark.anyio
async def test_proxy_counters_show_pulls(
    client: httpx.AsyncClient, upstream_registry: str, mirror: RegistryServer
) -> None:
    image = await push_synthetic_image(upstream_registry, layer_sizes=SMALL_LAYERS)
    debug_url = f"http://{mirror.config.debug_address}"
    before = await read_proxy_counters(client, debug_url)

    await pull(client, mirror.base_url, image)
    after = await read_proxy_counters(client, debug_url)

    assert before is not None
    assert after is not None
    assert after.requests > before.requests
    assert after.misses > before.misses
    assert after.bytes_pulled > before.bytes_pulled


@pytest.mark.anyio
async def test_mirror_catalog_lists_pulled_repository(
    client: httpx.AsyncClient, upstream_registry: str, mirror: RegistryServer
) -> None:
    image = await push_synthetic_image(upstream_registry, layer_sizes=SMALL_LAYERS)
    await pull(client, mirror.base_url, image)

    # The proxy stores what it fetched after it responds, so poll briefly.
    listing = await list_repositories(client, mirror.base_url)
    for _ in range(40):
        if listing.items:
            break
        await anyio.sleep(0.25)
        listing = await list_repositories(client, mirror.base_url)

    assert listing.items == ("library/synthetic",)


async def pull(client: httpx.AsyncClient, base_url: str, image: SyntheticImage) -> None:
    manifest = await client.get(
        f"{base_url}/v2/{image.name}/manifests/{image.tag}",
        headers={"accept": OCI_MANIFEST},
    )
    assert manifest.status_code == 200
    for digest in image.layer_digests:
        blob = await client.get(f"{base_url}/v2/{image.name}/blobs/{digest}")
        assert blob.status_code == 200
