"""A mirror killed with SIGKILL mid-pull never serves a corrupt blob afterwards.

The mirror is the real docker-registry 2.8 in proxy mode behind the Docker Hub
stand-in with WAN emulation on, so a cold pull of the small image lasts long
enough to kill the mirror at a chosen point: after a given number of bytes
left the stand-in. The mirror then restarts on the same storage, and the
checks are the client's own digest and size verification on every blob and
manifest, plus a hash of every blob file in the mirror's storage.

Distribution 2.8 fetches each cold blob twice from upstream (once for the
client, once for its storage), so a cold pull moves about twice the image
size through the stand-in and the kill points are fractions of that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from main.errors import RegistryError
from main.oci.client import ClientOptions, PullResult, RegistryClient, new_http_client
from main.oci.platform import parse_platform
from main.reference import ImageReference, parse_reference
from main.stack.hub import HubSettings, HubStandin
from main.stack.images import SMALL_IMAGE
from main.stack.registry import RegistryServer
from main.stack.wan import WanProfile
from tests.hardening.storage import StorageReport, scan_storage

pytestmark = pytest.mark.anyio

AMD64 = parse_platform("linux/amd64")
PLATFORMS = (AMD64, parse_platform("linux/arm64"))
OPTIONS = ClientOptions(connect_timeout=2.0, read_timeout=20.0, connect_retries=0)
KILL_WAIT_SECONDS = 120.0


@pytest.fixture
def hub_settings() -> HubSettings:
    """Turn WAN emulation on, so that a cold pull lasts seconds."""
    return HubSettings(wan=WanProfile(rtt_ms=20, bandwidth_mbit=100))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with new_http_client(OPTIONS) as client:
        yield client


def small_image() -> ImageReference:
    return parse_reference(f"{SMALL_IMAGE.repository}:{SMALL_IMAGE.tag}")


async def pull_until_killed(
    client: RegistryClient,
    mirror: RegistryServer,
    hub: HubStandin,
    kill_after_bytes: int,
) -> list[BaseException]:
    """Pull through the mirror and SIGKILL it once the stand-in sent enough.

    A kill point of 0 bytes waits for the pull to finish and kills the mirror
    right after, while it may still be copying blobs into storage. Returns
    the errors that the pull raised.
    """
    errors: list[BaseException] = []
    finished = anyio.Event()

    async def pull() -> None:
        try:
            await client.pull(small_image(), AMD64)
        except RegistryError as exc:
            errors.append(exc)
        finished.set()

    async with anyio.create_task_group() as group:
        group.start_soon(pull)
        with anyio.fail_after(KILL_WAIT_SECONDS):
            while kill_after_bytes and hub.stats().bytes_sent < kill_after_bytes:
                if finished.is_set():
                    break
                await anyio.sleep(0.005)
            if not kill_after_bytes:
                await finished.wait()
        await mirror.kill()
    return errors


async def pull_all_platforms(client: RegistryClient) -> list[PullResult]:
    return [await client.pull(small_image(), platform) for platform in PLATFORMS]


async def wait_until_stored(mirror: RegistryServer, results: list[PullResult]) -> None:
    digests = {digest for result in results for digest in result.blob_sizes}
    await mirror.wait_for_blobs(SMALL_IMAGE.repository, sorted(digests))


def assert_storage_sound(report: StorageReport) -> None:
    assert report.corrupt_blobs == []
    assert report.bad_links == []
    assert report.dangling_links == []


@pytest.mark.parametrize(
    ("fraction", "pull_fails"),
    [
        pytest.param(0.05, True, id="first-bytes"),
        pytest.param(0.6, True, id="mid-pull"),
        pytest.param(1.6, True, id="nearly-done"),
        pytest.param(0.0, False, id="right-after-pull"),
    ],
)
async def test_mirror_killed_mid_pull(
    fraction: float,
    pull_fails: bool,
    small_image_upstream: str,
    hub_standin: HubStandin,
    mirror_registry: RegistryServer,
    http: httpx.AsyncClient,
) -> None:
    upstream = RegistryClient(http, small_image_upstream, options=OPTIONS)
    image_bytes = (await upstream.pull(small_image(), AMD64)).total_bytes
    mirror = RegistryClient(http, mirror_registry.base_url, options=OPTIONS)
    hub_standin.reset()

    errors = await pull_until_killed(
        mirror, mirror_registry, hub_standin, int(image_bytes * fraction)
    )
    after_crash = scan_storage(mirror_registry.storage_dir)
    await mirror_registry.start()
    cold = await pull_all_platforms(mirror)
    await wait_until_stored(mirror_registry, cold)
    pulls_before_warm = hub_standin.stats().counted_pulls
    warm = await pull_all_platforms(mirror)
    final = scan_storage(mirror_registry.storage_dir)

    assert bool(errors) == pull_fails, errors
    assert_storage_sound(after_crash)
    assert [result.total_bytes for result in warm] == [
        result.total_bytes for result in cold
    ]
    assert hub_standin.stats().counted_pulls == pulls_before_warm
    assert_storage_sound(final)
    assert len(final.blobs) >= sum(result.blob_count for result in cold)


async def test_restart_after_kill_keeps_cache(
    small_image_upstream: str,
    hub_standin: HubStandin,
    mirror_registry: RegistryServer,
    http: httpx.AsyncClient,
) -> None:
    mirror = RegistryClient(http, mirror_registry.base_url, options=OPTIONS)
    cold = await pull_all_platforms(mirror)
    await wait_until_stored(mirror_registry, cold)

    await mirror_registry.kill()
    await mirror_registry.start()
    hub_standin.reset()
    warm = await pull_all_platforms(mirror)
    report = scan_storage(mirror_registry.storage_dir)

    assert [result.manifest_digest for result in warm] == [
        result.manifest_digest for result in cold
    ]
    assert hub_standin.stats().counted_pulls == 0
    assert_storage_sound(report)
