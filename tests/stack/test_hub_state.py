"""Tests for the stand-in's request classification, quota and counters."""

from __future__ import annotations

import pytest

from main.stack.hub_state import FaultMode, HubState, classify_path


@pytest.mark.parametrize(
    ("path", "kind", "repository"),
    [
        pytest.param("/v2/", "other", None, id="version-check"),
        pytest.param("/token", "token", None, id="token"),
        pytest.param(
            "/v2/library/debian/manifests/bookworm-slim",
            "manifest",
            "library/debian",
            id="manifest-tag",
        ),
        pytest.param(
            "/v2/a/b/c/manifests/sha256:abc", "manifest", "a/b/c", id="nested-name"
        ),
        pytest.param(
            "/v2/library/debian/blobs/sha256:abc",
            "blob",
            "library/debian",
            id="blob",
        ),
        pytest.param(
            "/v2/library/debian/tags/list", "other", "library/debian", id="tags"
        ),
        pytest.param(
            "/v2/library/debian/blobs/uploads/",
            "other",
            "library/debian",
            id="upload",
        ),
        pytest.param("/v2/_catalog", "other", None, id="catalog"),
    ],
)
def test_classify_path(path: str, kind: str, repository: str | None) -> None:
    assert classify_path(path) == (kind, repository)


def test_quota_rejects_after_limit() -> None:
    state = HubState(limit=1)

    first = state.reserve_pull()
    state.confirm_pull()
    second = state.reserve_pull()

    stats = state.snapshot()
    assert first is True
    assert second is False
    assert stats.counted_pulls == 1
    assert stats.rejected_pulls == 1
    assert stats.remaining == 0


def test_released_pull_returns_quota() -> None:
    state = HubState(limit=3)

    state.reserve_pull()
    state.release_pull()

    assert state.remaining == 3
    assert state.snapshot().counted_pulls == 0


def test_reset_keeps_fault_and_zeroes_counters() -> None:
    state = HubState(limit=3)
    state.record_request("GET", "blob")
    state.record_bytes(10)
    state.set_fault(FaultMode.ERROR500)

    state.reset(limit=7)

    stats = state.snapshot()
    assert stats.requests_total == 0
    assert stats.bytes_sent == 0
    assert stats.limit == 7
    assert stats.remaining == 7
    assert stats.fault is FaultMode.ERROR500


def test_reset_rejects_negative_limit() -> None:
    with pytest.raises(ValueError, match="invalid pull limit"):
        HubState(limit=3).reset(limit=-1)


def test_snapshot_is_a_copy() -> None:
    state = HubState(limit=3)
    state.record_request("GET", "manifest")

    snapshot = state.snapshot()
    state.record_request("GET", "manifest")

    assert snapshot.count("GET", "manifest") == 1
    assert state.snapshot().count("GET", "manifest") == 2


def test_stats_json_layout() -> None:
    state = HubState(limit=3)
    state.record_request("HEAD", "manifest")

    body = state.snapshot().to_json()

    assert body == {
        "requests": {"HEAD": {"manifest": 1}},
        "requests_total": 1,
        "bytes_sent": 0,
        "counted_pulls": 0,
        "rejected_pulls": 0,
        "limit": 3,
        "remaining": 3,
        "window_seconds": 21600,
        "fault": "normal",
    }
