"""Remember which digest each tag had the last time the upstream answered.

While the upstream is down or rate-limited, the gateway answers a tag lookup
from this store, so distribution serves its cached copy of that digest
without spending a pull. The store is a JSON file written atomically (a
temporary file renamed over the old one) whenever an entry changes, so it
survives restarts of the gateway and of its pod.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import anyio
import anyio.to_thread

__all__ = ["FILE_NAME", "KnownTag", "KnownTagStore"]

logger = logging.getLogger(__name__)

FILE_NAME = "known-tags.json"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class KnownTag:
    """Descriptor of the manifest a tag pointed to, and when that was seen."""

    digest: str
    media_type: str
    size: int
    seen_at: float


class KnownTagStore:
    """Tag-to-descriptor map of one upstream, bounded and optionally persisted.

    Keys are `(repository, tag)`. When full, the entry seen longest ago is
    dropped. `directory` None keeps the entries in memory only.
    """

    def __init__(
        self,
        directory: Path | None,
        *,
        max_entries: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._path = directory / FILE_NAME if directory is not None else None
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], KnownTag] = OrderedDict()
        self._write_lock = anyio.Lock()
        # Set while writes fail, so a full disk is logged once, not per tag.
        self._write_failing = False

    def __len__(self) -> int:
        return len(self._entries)

    def load(self) -> None:
        """Read the file if it exists; a damaged file is logged and ignored."""
        if self._path is None or not self._path.exists():
            return
        try:
            document = json.loads(self._path.read_text(encoding="utf-8"))
            entries = _entries_from_document(document)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning(
                "ignoring unreadable known-tags file %s: %s", self._path, exc
            )
            return
        self._entries = OrderedDict(sorted(entries.items(), key=lambda i: i[1].seen_at))
        self._trim()
        logger.info("loaded %d known tags from %s", len(self._entries), self._path)

    def get(self, repository: str, tag: str) -> KnownTag | None:
        """Return the last descriptor recorded for the tag, or None."""
        return self._entries.get((repository, tag))

    async def record(
        self, repository: str, tag: str, digest: str, media_type: str, size: int
    ) -> None:
        """Store the tag's descriptor; write the file only when the digest changed."""
        key = (repository, tag)
        previous = self._entries.pop(key, None)
        entry = KnownTag(digest, media_type, size, self._clock())
        self._entries[key] = entry
        self._trim()
        unchanged = previous is not None and (
            previous.digest,
            previous.media_type,
            previous.size,
        ) == (digest, media_type, size)
        if not unchanged:
            await self._save()

    async def forget(self, repository: str, tag: str) -> None:
        """Drop a tag that the upstream no longer has."""
        if self._entries.pop((repository, tag), None) is not None:
            await self._save()

    def _trim(self) -> None:
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def _save(self) -> None:
        if self._path is None:
            return
        document = _document_from_entries(self._entries)
        # One writer at a time, so an older snapshot never replaces a newer one.
        async with self._write_lock:
            try:
                await anyio.to_thread.run_sync(_write_atomically, self._path, document)
            except OSError as exc:
                # The entries stay in memory and the next change writes them
                # all, so a full disk costs persistence, never a request.
                if not self._write_failing:
                    logger.error(
                        "cannot write known tags to %s: %s; keeping them in "
                        "memory until a write succeeds",
                        self._path,
                        exc.strerror or exc,
                    )
                self._write_failing = True
                return
        if self._write_failing:
            logger.warning("wrote known tags to %s again", self._path)
        self._write_failing = False


def _document_from_entries(
    entries: OrderedDict[tuple[str, str], KnownTag],
) -> dict[str, object]:
    tags: dict[str, dict[str, object]] = {}
    for (repository, tag), entry in entries.items():
        tags.setdefault(repository, {})[tag] = asdict(entry)
    return {"version": _FORMAT_VERSION, "tags": tags}


def _entries_from_document(document: object) -> dict[tuple[str, str], KnownTag]:
    if not isinstance(document, dict) or document.get("version") != _FORMAT_VERSION:
        msg = f"expected a version {_FORMAT_VERSION} document"
        raise ValueError(msg)
    entries: dict[tuple[str, str], KnownTag] = {}
    for repository, tags in document["tags"].items():
        for tag, fields in tags.items():
            entries[(repository, tag)] = KnownTag(
                digest=str(fields["digest"]),
                media_type=str(fields["media_type"]),
                size=int(fields["size"]),
                seen_at=float(fields["seen_at"]),
            )
    return entries


def _write_atomically(path: Path, document: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".known-tags-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(document, file, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
