"""The known-tags store: records, persistence, bounds and damaged files."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from main.gateway.known_tags import FILE_NAME, KnownTagStore

pytestmark = pytest.mark.anyio

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


async def test_record_survives_reload(tmp_path: Path) -> None:
    store = KnownTagStore(tmp_path, max_entries=10)
    await store.record("library/debian", "bookworm", DIGEST_A, OCI_INDEX, 1234)

    reloaded = KnownTagStore(tmp_path, max_entries=10)
    reloaded.load()

    entry = reloaded.get("library/debian", "bookworm")
    assert entry is not None
    assert entry.digest == DIGEST_A
    assert entry.media_type == OCI_INDEX
    assert entry.size == 1234


async def test_new_digest_replaces_old(tmp_path: Path) -> None:
    store = KnownTagStore(tmp_path, max_entries=10)
    await store.record("library/debian", "bookworm", DIGEST_A, OCI_INDEX, 1)

    await store.record("library/debian", "bookworm", DIGEST_B, OCI_INDEX, 2)

    entry = store.get("library/debian", "bookworm")
    assert entry is not None
    assert entry.digest == DIGEST_B
    assert len(store) == 1


async def test_oldest_entry_dropped_when_full(tmp_path: Path) -> None:
    store = KnownTagStore(tmp_path, max_entries=2)

    for tag in ("one", "two", "three"):
        await store.record("library/debian", tag, DIGEST_A, OCI_INDEX, 1)

    assert store.get("library/debian", "one") is None
    assert store.get("library/debian", "three") is not None
    assert len(store) == 2


async def test_forget_removes_tag(tmp_path: Path) -> None:
    store = KnownTagStore(tmp_path, max_entries=10)
    await store.record("library/debian", "gone", DIGEST_A, OCI_INDEX, 1)

    await store.forget("library/debian", "gone")
    reloaded = KnownTagStore(tmp_path, max_entries=10)
    reloaded.load()

    assert reloaded.get("library/debian", "gone") is None


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param('{"version": 1, "tags": []}', id="tags-list"),
        pytest.param('{"version": 1, "tags": {"library/debian": "x"}}', id="tag-str"),
        pytest.param('{"version": 1, "tags": {"r": {"t": []}}}', id="fields-list"),
        pytest.param('{"version": 1}', id="no-tags"),
        pytest.param("[]", id="list"),
        pytest.param(
            '{"version": 1, "tags": {"r": {"t": {"digest": "d", "media_type": "m",'
            ' "size": "big", "seen_at": 1}}}}',
            id="size-not-number",
        ),
    ],
)
def test_damaged_file_is_ignored(tmp_path: Path, content: str) -> None:
    (tmp_path / FILE_NAME).write_text(content)
    store = KnownTagStore(tmp_path, max_entries=10)

    store.load()

    assert len(store) == 0


async def test_memory_only_store_writes_nothing(tmp_path: Path) -> None:
    store = KnownTagStore(None, max_entries=10)

    await store.record("library/debian", "bookworm", DIGEST_A, OCI_INDEX, 1)

    assert store.get("library/debian", "bookworm") is not None
    assert [path async for path in anyio.Path(tmp_path).iterdir()] == []
