"""Hash content while it streams and check it against its descriptor."""

from __future__ import annotations

import hashlib
from typing import NoReturn

from main.errors import DigestMismatchError

__all__ = ["ContentVerifier", "compute_digest"]


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    """Return the digest of `data`, such as `sha256:<64 hex>`."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class ContentVerifier:
    """Hash chunks as they arrive and compare the result with a known digest.

    `update` raises as soon as more bytes arrive than the expected size, so a
    registry that streams too much is cut off early. `verify` raises
    DigestMismatchError when the size or the digest differs.
    """

    def __init__(self, digest: str, size: int, *, url: str) -> None:
        self.digest = digest
        self.size = size
        self.url = url
        self.received = 0
        algorithm = digest.partition(":")[0]
        self._hash = hashlib.new(algorithm)

    def update(self, chunk: bytes) -> None:
        """Add a chunk, raising DigestMismatchError when the size is exceeded."""
        self.received += len(chunk)
        if self.received > self.size:
            self._raise(f"got more than {self.size} bytes")
        self._hash.update(chunk)

    def verify(self) -> None:
        """Raise DigestMismatchError unless size and digest match."""
        if self.received != self.size:
            self._raise(f"expected {self.size} bytes, got {self.received}")
        actual = f"{self.digest.partition(':')[0]}:{self._hash.hexdigest()}"
        if actual != self.digest:
            self._raise(f"expected digest {self.digest}, got {actual}")

    def _raise(self, detail: str) -> NoReturn:
        msg = (
            f"content {self.digest} from {self.url} failed verification: {detail}; "
            "the registry's copy is corrupt or was changed in transit"
        )
        raise DigestMismatchError(msg, url=self.url, status=200)
