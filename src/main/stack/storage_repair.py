"""Repair what a killed distribution proxy can leave in its filesystem storage.

Distribution's filesystem driver writes small files in place: `PutContent`
truncates the file and then writes it (registry/storage/driver/filesystem/
driver.go at v2.8.2 and v3.0.0). A process killed between the two steps
leaves an empty or truncated file, and two such files hurt a proxy:

- `scheduler-state.json` at the storage root, rewritten every 5 s while
  cached entries change. An unreadable one makes the proxy panic at every
  start with "unexpected end of JSON input", so it never starts again:
  https://github.com/distribution/distribution/issues/2374 and
  https://github.com/distribution/distribution/issues/4478
- manifests, which the proxy stores with `blobStore.Put` straight at their
  content address. `Put` skips content that already exists, so a truncated
  manifest is never rewritten: the proxy cannot read it, fetches the manifest
  upstream on every pull and spends a counted pull each time.

Layers and configs are immune, because the proxy writes them to an upload
folder and renames them into place after checking their digest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SCHEDULER_STATE", "StorageRepair", "repair_proxy_storage"]

logger = logging.getLogger(__name__)

SCHEDULER_STATE = "scheduler-state.json"
BLOBS = Path("docker/registry/v2/blobs/sha256")
# Manifests and configs are small, and in-place writes only happen to them.
# OCI recommends that registries accept manifests of at least 4 MiB.
MAX_CHECKED_BYTES = 4 * 1024 * 1024


@dataclass
class StorageRepair:
    """What `repair_proxy_storage` moved aside or removed."""

    scheduler_state: Path | None = None
    """New path of an unreadable scheduler state, or None."""
    removed_blobs: list[str] = field(default_factory=list)
    """Digests of small blobs whose content did not match their digest."""


def repair_proxy_storage(storage_root: Path) -> StorageRepair:
    """Move aside an unreadable scheduler state and remove corrupt small blobs.

    Run it only while no registry uses `storage_root`. A removed blob is
    fetched upstream again on the next pull. A moved state loses the expiry
    times of cached content, which distribution then keeps until it is
    removed by hand.
    """
    repair = StorageRepair()
    repair.scheduler_state = _quarantine_scheduler_state(storage_root)
    repair.removed_blobs = _remove_corrupt_small_blobs(storage_root / BLOBS)
    return repair


def _quarantine_scheduler_state(storage_root: Path) -> Path | None:
    state = storage_root / SCHEDULER_STATE
    try:
        text = state.read_bytes()
    except FileNotFoundError:
        return None
    try:
        document = json.loads(text)
    except ValueError as exc:
        problem = str(exc)
    else:
        if isinstance(document, dict):
            return None
        problem = f"a JSON {type(document).__name__}, not an object"
    stamp = time.strftime("%Y%m%dT%H%M%S")
    moved = state.with_name(f"{SCHEDULER_STATE}.unreadable-{stamp}")
    state.rename(moved)
    logger.warning(
        "moved unreadable proxy scheduler state %s to %s (%s); "
        "distribution would panic on it at start-up",
        state,
        moved.name,
        problem,
    )
    return moved


def _remove_corrupt_small_blobs(blobs_root: Path) -> list[str]:
    removed = []
    for data in sorted(blobs_root.glob("*/*/data")):
        size = data.stat().st_size
        if size > MAX_CHECKED_BYTES:
            continue
        expected = data.parent.name
        actual = hashlib.sha256(data.read_bytes()).hexdigest()
        if actual == expected:
            continue
        shutil.rmtree(data.parent)
        logger.warning(
            "removed blob sha256:%s from %s: its %d bytes hash to sha256:%s",
            expected,
            blobs_root,
            size,
            actual,
        )
        removed.append(f"sha256:{expected}")
    return removed
