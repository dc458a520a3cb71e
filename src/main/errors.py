"""Exceptions raised by registry-mirror.

Every error a user can cause or fix derives from `RegistryMirrorError`; its
message is one line that names the bad value and the next step, so the CLI
prints `str(exc)` and never a traceback.

    RegistryMirrorError
    ├── UsageError                bad input: options, references, settings
    │   ├── InvalidReferenceError
    │   └── SettingsError
    ├── RegistryError             a registry answered with an error
    │   ├── ManifestNotFoundError
    │   ├── RateLimitedError
    │   └── DigestMismatchError
    ├── StackError                a local process or port could not be used
    └── ClusterError              kubectl failed or the cluster rejected a request
"""

from __future__ import annotations


class RegistryMirrorError(Exception):
    """Base class of every error that the CLI reports as one line."""


class UsageError(RegistryMirrorError):
    """Raised when user input (an option, a reference, a setting) is invalid."""


class InvalidReferenceError(UsageError):
    """Raised when an image reference cannot be parsed."""


class SettingsError(UsageError):
    """Raised when a settings value is invalid."""


class RegistryError(RegistryMirrorError):
    """Raised when a registry answers a request with an error.

    Carries the request URL and HTTP status (0 when no response arrived).
    """

    def __init__(self, message: str, *, url: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class ManifestNotFoundError(RegistryError):
    """Raised when a registry does not know a repository, tag or digest."""


class RateLimitedError(RegistryError):
    """Raised when a registry answers 429 Too Many Requests."""


class DigestMismatchError(RegistryError):
    """Raised when downloaded content does not match its digest or size."""


class StackError(RegistryMirrorError):
    """Raised when a local server cannot be started, reached or stopped."""


class ClusterError(RegistryMirrorError):
    """Raised when kubectl fails or the Kubernetes API rejects a request."""
