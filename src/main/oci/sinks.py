"""Destinations for downloaded blobs: a directory on disk, or nowhere.

The client writes each blob chunk by chunk and calls `commit` only after the
digest and size were verified, so a directory sink never exposes a partial or
corrupt blob under its final name.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path
from typing import Protocol

import anyio

from main.oci.manifest import Descriptor
from main.reference import digest_problem

__all__ = ["BlobSink", "BlobWriter", "DirectorySink", "DiscardSink"]


class BlobWriter(Protocol):
    """Receives one blob's bytes; `commit` or `abort` ends it."""

    async def write(self, chunk: bytes) -> None:
        """Store the next chunk."""

    async def commit(self) -> None:
        """Keep the blob: the client verified its digest and size."""

    async def abort(self) -> None:
        """Throw away what was written, because the download failed."""


class BlobSink(Protocol):
    """Opens a writer for each blob that a pull downloads."""

    async def open_blob(self, descriptor: Descriptor) -> BlobWriter:
        """Return a writer for the blob that `descriptor` names."""
        ...


class _DiscardWriter:
    async def write(self, chunk: bytes) -> None:
        pass

    async def commit(self) -> None:
        pass

    async def abort(self) -> None:
        pass


class DiscardSink:
    """Drop every byte; the client still hashes and verifies each blob."""

    async def open_blob(self, descriptor: Descriptor) -> BlobWriter:
        """Return a writer that stores nothing."""
        return _DiscardWriter()


class _FileWriter:
    def __init__(self, file: anyio.AsyncFile[bytes], partial: Path, final: Path):
        self._file = file
        self._partial = partial
        self._final = final

    async def write(self, chunk: bytes) -> None:
        await self._file.write(chunk)

    async def commit(self) -> None:
        # Shielded so that cancellation cannot fall between close and rename.
        with anyio.CancelScope(shield=True):
            await self._file.aclose()
            await anyio.Path(self._partial).rename(self._final)

    async def abort(self) -> None:
        await self._file.aclose()
        with contextlib.suppress(FileNotFoundError):
            await anyio.Path(self._partial).unlink()


class DirectorySink:
    """Store blobs as `<root>/blobs/<algorithm>/<hex>`, as an OCI image layout does.

    A blob is written to a `.partial` file first and renamed into place on
    commit, so readers never see an unverified blob under its digest.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str) -> Path:
        """Return where the blob with this digest is stored.

        Raises ValueError for a malformed digest, which could otherwise name a
        path outside the root.
        """
        problem = digest_problem(digest)
        if problem is not None:
            raise ValueError(f"invalid digest {digest!r}: {problem}")
        algorithm, _, hex_part = digest.partition(":")
        return self.root / "blobs" / algorithm / hex_part

    async def open_blob(self, descriptor: Descriptor) -> BlobWriter:
        """Open a `.partial` file for the blob, creating directories as needed."""
        final = self.path_for(descriptor.digest)
        await anyio.Path(final.parent).mkdir(parents=True, exist_ok=True)
        # A random suffix keeps concurrent pulls of the same blob apart.
        partial = final.with_name(f"{final.name}.{secrets.token_hex(4)}.partial")
        # Shielded so that a cancelled pull cannot create the file without
        # getting the writer that deletes it on abort.
        with anyio.CancelScope(shield=True):
            file = await anyio.open_file(partial, "wb")
        return _FileWriter(file, partial, final)
