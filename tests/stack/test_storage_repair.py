"""Repair of a proxy's storage after a kill: scheduler state and small blobs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from main.stack.storage_repair import (
    BLOBS,
    MAX_CHECKED_BYTES,
    SCHEDULER_STATE,
    repair_proxy_storage,
)


def put_blob(storage: Path, content: bytes, name: str | None = None) -> Path:
    """Store `content` under its digest, or under `name` to fake corruption."""
    encoded = name or hashlib.sha256(content).hexdigest()
    data = storage / BLOBS / encoded[:2] / encoded / "data"
    data.parent.mkdir(parents=True)
    data.write_bytes(content)
    return data


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"library/debian@sha256:ab": {"Key": "x"}}', id="entries"),
        pytest.param("{}", id="no-entries"),
    ],
)
def test_readable_state_kept(tmp_path: Path, text: str) -> None:
    (tmp_path / SCHEDULER_STATE).write_text(text)

    repair = repair_proxy_storage(tmp_path)

    assert repair.scheduler_state is None
    assert (tmp_path / SCHEDULER_STATE).read_text() == text


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param('{"library/deb', id="cut-short"),
        pytest.param("[]", id="not-an-object"),
        pytest.param("\x00\x00\x00", id="zero-bytes"),
    ],
)
def test_unreadable_state_moved(tmp_path: Path, text: str) -> None:
    (tmp_path / SCHEDULER_STATE).write_text(text)

    repair = repair_proxy_storage(tmp_path)

    assert repair.scheduler_state is not None
    assert repair.scheduler_state.read_text() == text
    assert not (tmp_path / SCHEDULER_STATE).exists()


def test_missing_state_is_fine(tmp_path: Path) -> None:
    repair = repair_proxy_storage(tmp_path)

    assert repair.scheduler_state is None
    assert repair.removed_blobs == []


def test_sound_blobs_kept(tmp_path: Path) -> None:
    manifest = put_blob(tmp_path, b'{"schemaVersion": 2}')
    empty = put_blob(tmp_path, b"")

    repair = repair_proxy_storage(tmp_path)

    assert repair.removed_blobs == []
    assert manifest.is_file()
    assert empty.is_file()


def test_cut_short_blob_removed(tmp_path: Path) -> None:
    content = b'{"schemaVersion": 2, "layers": []}'
    digest = hashlib.sha256(content).hexdigest()
    data = put_blob(tmp_path, content[:10], name=digest)

    repair = repair_proxy_storage(tmp_path)

    assert repair.removed_blobs == [f"sha256:{digest}"]
    assert not data.parent.exists()


def test_large_blob_not_hashed(tmp_path: Path) -> None:
    # Large blobs are written by rename after a digest check, so a mismatch
    # there cannot come from a kill and the repair leaves them alone.
    data = put_blob(tmp_path, b"x" * (MAX_CHECKED_BYTES + 1), name="ab" * 32)

    repair = repair_proxy_storage(tmp_path)

    assert repair.removed_blobs == []
    assert data.is_file()
