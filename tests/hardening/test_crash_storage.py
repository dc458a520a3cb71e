"""Files that a kill inside distribution's in-place writes leaves, and their repair.

Distribution's filesystem driver truncates a small file and then writes it,
so SIGKILL between the two leaves it empty or cut short. The window is too
short to hit with a real kill in a test, so these tests cut the files
themselves, byte for byte what such a kill leaves, and run the real
docker-registry 2.8 on the result: once as distribution alone
(`repair_storage` off) to show its behaviour, and once with the repair that
the embedded stack runs before each mirror start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from main.errors import StackError
from main.oci.client import PullResult, RegistryClient, new_http_client
from main.stack.hub import HubStandin
from main.stack.images import SMALL_IMAGE
from main.stack.registry import RegistryServer
from main.stack.storage_repair import SCHEDULER_STATE
from tests.hardening.storage import V2_ROOT, scan_storage
from tests.hardening.test_crash_mirror import (
    AMD64,
    OPTIONS,
    pull_all_platforms,
    small_image,
    wait_until_stored,
)

pytestmark = pytest.mark.anyio

# Distribution saves the scheduler state every 5 s while entries change, so
# 200 polls of 0.1 s leave room for several saves.
STATE_POLLS = 200


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with new_http_client(OPTIONS) as client:
        yield client


async def warm_mirror(
    http: httpx.AsyncClient, mirror: RegistryServer
) -> list[PullResult]:
    """Pull every platform through the mirror and wait until all is stored."""
    results = await pull_all_platforms(
        RegistryClient(http, mirror.base_url, options=OPTIONS)
    )
    await wait_until_stored(mirror, results)
    state = mirror.storage_dir / SCHEDULER_STATE
    for _ in range(STATE_POLLS):
        if state.exists():
            return results
        await anyio.sleep(0.1)
    pytest.fail(f"{state} was not written within {STATE_POLLS * 0.1:g} s")


def cut_short(path: Path, keep: int) -> None:
    """Keep the first `keep` bytes of a file, as a kill mid-write leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def manifest_paths(storage: Path, digest: str) -> tuple[Path, Path]:
    """Return the blob data file and the repository link of a manifest."""
    encoded = digest.removeprefix("sha256:")
    root = storage / V2_ROOT
    data = root / "blobs/sha256" / encoded[:2] / encoded / "data"
    link = (
        root
        / "repositories"
        / SMALL_IMAGE.repository
        / "_manifests/revisions/sha256"
        / encoded
        / "link"
    )
    return data, link


async def counted_pulls_of_three(
    http: httpx.AsyncClient, mirror: RegistryServer, hub: HubStandin
) -> list[int]:
    """Pull amd64 three times; return the stand-in's counted pulls after each."""
    client = RegistryClient(http, mirror.base_url, options=OPTIONS)
    hub.reset()
    counts = []
    for _ in range(3):
        await client.pull(small_image(), AMD64)
        counts.append(hub.stats().counted_pulls)
    return counts


@pytest.mark.parametrize(
    "keep", [pytest.param(0, id="empty"), pytest.param(10, id="cut-short")]
)
async def test_unreadable_state_stops_plain_distribution(
    keep: int,
    small_image_upstream: str,
    hub_standin: HubStandin,
    mirror_registry: RegistryServer,
    http: httpx.AsyncClient,
) -> None:
    await warm_mirror(http, mirror_registry)
    await mirror_registry.kill()
    cut_short(mirror_registry.storage_dir / SCHEDULER_STATE, keep)
    mirror_registry.repair_storage = False

    with pytest.raises(StackError) as raised:
        await mirror_registry.start()

    assert "panic: unexpected end of JSON input" in str(raised.value)


async def test_unreadable_state_moved_aside(
    small_image_upstream: str,
    hub_standin: HubStandin,
    mirror_registry: RegistryServer,
    http: httpx.AsyncClient,
) -> None:
    await warm_mirror(http, mirror_registry)
    await mirror_registry.kill()
    cut_short(mirror_registry.storage_dir / SCHEDULER_STATE, 10)

    await mirror_registry.start()
    counts = await counted_pulls_of_three(http, mirror_registry, hub_standin)
    moved = list(mirror_registry.storage_dir.glob(f"{SCHEDULER_STATE}.unreadable-*"))

    assert counts == [0, 0, 0]
    assert len(moved) == 1


async def test_cut_manifest_costs_a_pull_each_time(
    small_image_upstream: str,
    hub_standin: HubStandin,
    mirror_registry: RegistryServer,
    http: httpx.AsyncClient,
) -> None:
    results = await warm_mirror(http, mirror_registry)
    await mirror_registry.kill()
    # A kill inside the manifest's write comes before its link is written.
    data, link = manifest_paths(mirror_registry.storage_dir, results[0].manifest_digest)
    cut_short(data, data.stat().st_size // 2)
    link.unlink()
    mirror_registry.repair_storage = False
    await mirror_registry.start()

    counts = await counted_pulls_of_three(http, mirror_registry, hub_standin)
    report = scan_storage(mirror_registry.storage_dir)

    assert counts == [1, 2, 3]
    assert report.corrupt_blobs == [results[0].manifest_digest]


async def test_cut_manifest_removed_and_fetched_again(
    small_image_upstream: str,
    hub_standin: HubStandin,
    mirror_registry: RegistryServer,
    http: httpx.AsyncClient,
) -> None:
    results = await warm_mirror(http, mirror_registry)
    await mirror_registry.kill()
    data, link = manifest_paths(mirror_registry.storage_dir, results[0].manifest_digest)
    cut_short(data, data.stat().st_size // 2)
    link.unlink()

    await mirror_registry.start()
    counts = await counted_pulls_of_three(http, mirror_registry, hub_standin)
    report = scan_storage(mirror_registry.storage_dir)

    assert counts == [1, 1, 1]
    assert report.corrupt_blobs == []
    assert data.is_file()
