"""Warming through a real mirror: every platform once, then nothing upstream."""

from __future__ import annotations

import pytest

from main.errors import UsageError
from main.oci.client import new_http_client
from main.oci.platform import parse_platform
from main.stack.hub import HubStandin
from main.stack.registry import RegistryServer
from main.warm.discover import parse_images
from main.warm.run import parse_mirror_map, warm_images

IMAGE = "debian:bookworm-slim"


@pytest.mark.anyio
async def test_warm_pulls_all_platforms_once(
    small_image_upstream: str,
    hub_standin: HubStandin,
    mirror_registry: RegistryServer,
) -> None:
    mirrors = {"docker.io": mirror_registry.base_url}
    images = parse_images([IMAGE])

    async with new_http_client() as http:
        (first,) = await warm_images(http, images, mirrors)
        for platform in first.platforms:
            assert platform in {"linux/amd64", "linux/arm64/v8"}
        await mirror_registry.wait_for_blobs("library/debian", first.blobs)
        hub_standin.reset()
        (second,) = await warm_images(http, images, mirrors)

    assert first.error is None
    assert sorted(first.platforms) == ["linux/amd64", "linux/arm64/v8"]
    assert first.bytes > 10_000_000
    assert second.error is None
    stats = hub_standin.stats()
    assert stats.count("GET", "blob") == 0
    assert stats.counted_pulls == 0


@pytest.mark.anyio
async def test_warm_one_platform_only(
    small_image_upstream: str,
    hub_standin: HubStandin,
    mirror_registry: RegistryServer,
) -> None:
    mirrors = {"docker.io": mirror_registry.base_url}

    async with new_http_client() as http:
        (outcome,) = await warm_images(
            http, parse_images([IMAGE]), mirrors, [parse_platform("linux/arm64")]
        )

    assert outcome.error is None
    assert outcome.platforms == ["linux/arm64"]


@pytest.mark.anyio
async def test_warm_unknown_tag_reports_error(
    small_image_upstream: str,
    hub_standin: HubStandin,
    mirror_registry: RegistryServer,
) -> None:
    mirrors = {"docker.io": mirror_registry.base_url}

    async with new_http_client() as http:
        (outcome,) = await warm_images(http, parse_images(["debian:nope"]), mirrors)

    assert outcome.error is not None
    assert "debian" in outcome.error


@pytest.mark.anyio
async def test_warm_without_mirror_for_registry_rejected() -> None:
    async with new_http_client() as http:
        with pytest.raises(UsageError, match=r"no mirror for registry ghcr\.io"):
            await warm_images(http, parse_images(["ghcr.io/org/x:1"]), {})


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param("docker.io", id="no-equals"),
        pytest.param("=http://127.0.0.1:1", id="no-registry"),
        pytest.param("docker.io=", id="no-url"),
        pytest.param("docker.io=127.0.0.1:5000", id="no-scheme"),
    ],
)
def test_bad_mirror_entry_rejected(entry: str) -> None:
    with pytest.raises(UsageError):
        parse_mirror_map([entry])
