"""Spool files: one upstream response body on disk, written once, read by many.

A spool is an unnamed temporary file (`tempfile.TemporaryFile`), so nothing
is left on disk when the process dies. One writer appends; any number of
readers read at their own offsets with `os.pread`, which does not move a
shared file position. File operations run in worker threads because a slow
volume would otherwise stall every request of the event loop. Every `OSError`
of a spool file, such as a full disk or a missing folder, becomes a
`SpoolError`, which fails the one flight that uses the spool.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import anyio.to_thread

__all__ = ["Spool", "SpoolError"]

logger = logging.getLogger(__name__)


class SpoolError(Exception):
    """Raised when a spool file cannot be created, written or read."""


class Spool:
    """Append-only file with reference-counted readers.

    The file is closed once `discard` was called and the last reader has
    released it, so a reader that started before eviction finishes reading.
    """

    def __init__(self, directory: Path | None) -> None:
        self._folder = str(directory or tempfile.gettempdir())
        try:
            self._file = tempfile.TemporaryFile(dir=directory, buffering=0)  # noqa: SIM115 - closed by discard/release
        except OSError as exc:
            raise _spool_error("creating", self._folder, exc) from exc
        self._fd = self._file.fileno()
        self.size = 0
        self._readers = 0
        self._discarded = False

    @property
    def closed(self) -> bool:
        """Whether the file was closed and its disk space freed."""
        return self._file.closed

    async def append(self, data: bytes) -> None:
        """Write `data` at the end of the file."""
        offset = self.size
        try:
            await anyio.to_thread.run_sync(_write_all, self._fd, data, offset)
        except OSError as exc:
            raise _spool_error("writing", self._folder, exc) from exc
        self.size = offset + len(data)

    async def read(self, offset: int, length: int) -> bytes:
        """Return up to `length` bytes from `offset`."""
        try:
            return await anyio.to_thread.run_sync(os.pread, self._fd, length, offset)
        except OSError as exc:
            raise _spool_error("reading", self._folder, exc) from exc

    def acquire(self) -> None:
        """Register a reader, which must call `release` when done."""
        self._readers += 1

    def release(self) -> None:
        """Unregister a reader and close the file if it was the last one."""
        self._readers -= 1
        self._close_if_unused()

    def discard(self) -> None:
        """Mark the spool unused by its owner; close it after the last reader."""
        self._discarded = True
        self._close_if_unused()

    def _close_if_unused(self) -> None:
        if self._discarded and self._readers <= 0 and not self._file.closed:
            try:
                self._file.close()
            except OSError as exc:
                # The descriptor is released even when close reports an error.
                logger.warning(
                    "closing a spool file in %s failed: %s",
                    self._folder,
                    _describe(exc),
                )


def _spool_error(action: str, folder: str, exc: OSError) -> SpoolError:
    return SpoolError(
        f"{action} a spool file in {folder} failed: {_describe(exc)}; "
        "check the free space and permissions of the spool folder"
    )


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
