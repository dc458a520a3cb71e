"""Settings of the upstream gateway and its upstream credentials."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from main.errors import SettingsError

__all__ = [
    "CREDENTIALS_FILE_ENV",
    "PASSWORD_ENV",
    "USERNAME_ENV",
    "Credentials",
    "GatewayConfig",
    "load_credentials",
    "prepare_folder",
]

USERNAME_ENV = "REGISTRY_MIRROR_UPSTREAM_USERNAME"
PASSWORD_ENV = "REGISTRY_MIRROR_UPSTREAM_PASSWORD"  # noqa: S105 - a variable name
CREDENTIALS_FILE_ENV = "REGISTRY_MIRROR_UPSTREAM_CREDENTIALS_FILE"


@dataclass(frozen=True)
class Credentials:
    """User name and password (or access token) for the upstream's token service."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class GatewayConfig:
    """Settings of one gateway in front of one upstream registry.

    Durations are in seconds and sizes in bytes. `upstream_url` is the root
    of the upstream registry, such as `https://registry-1.docker.io`.
    `state_dir` holds the known-tags file that survives restarts; None keeps
    known tags in memory only. `spool_dir` receives the unnamed spool files
    of responses in flight; None uses the system temporary directory.
    """

    upstream_url: str
    credentials: Credentials | None = None
    state_dir: Path | None = None
    spool_dir: Path | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # How long a tag lookup waits for the upstream before it answers from the
    # known-tags store, when that store has the tag.
    tag_deadline: float = 2.0
    # Digest-addressed content is immutable, so it may be reused longer than
    # the answer to a tag lookup, which a push upstream can change.
    recent_seconds: float = 30.0
    tag_recent_seconds: float = 5.0
    recent_max_bytes: int = 1 << 30
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    rate_limit_backoff: float = 60.0
    prefetch_blob_on_head: bool = True
    use_env_proxy: bool = True
    known_tags_max: int = 50_000

    def __post_init__(self) -> None:
        """Reject durations and sizes that cannot work."""
        for name in ("connect_timeout", "read_timeout", "backoff_initial"):
            value = getattr(self, name)
            if value <= 0:
                msg = f"invalid gateway {name} {value!r}; use a number of seconds > 0"
                raise SettingsError(msg)
        for name in (
            "tag_deadline",
            "recent_seconds",
            "tag_recent_seconds",
            "backoff_max",
            "rate_limit_backoff",
            "recent_max_bytes",
        ):
            value = getattr(self, name)
            if value < 0:
                msg = f"invalid gateway {name} {value!r}; use a number >= 0"
                raise SettingsError(msg)


def load_credentials(
    env: Mapping[str, str] | None = None, file: Path | None = None
) -> Credentials | None:
    """Read upstream credentials from a file or the environment, or return None.

    `file`, or else the file named by `REGISTRY_MIRROR_UPSTREAM_CREDENTIALS_FILE`,
    contains `USERNAME:PASSWORD` on its first line. Without a file the
    variables `REGISTRY_MIRROR_UPSTREAM_USERNAME` and
    `REGISTRY_MIRROR_UPSTREAM_PASSWORD` are read. Error messages never contain
    the password.
    """
    values = os.environ if env is None else env
    path = file
    if path is None and values.get(CREDENTIALS_FILE_ENV):
        path = Path(values[CREDENTIALS_FILE_ENV])
    if path is not None:
        return _read_credentials_file(path)

    username = values.get(USERNAME_ENV, "")
    password = values.get(PASSWORD_ENV, "")
    if not username and not password:
        return None
    if not username or not password:
        msg = (
            f"upstream credentials are incomplete; set both {USERNAME_ENV} and "
            f"{PASSWORD_ENV}, or neither for anonymous access"
        )
        raise SettingsError(msg)
    return Credentials(username, password)


def _read_credentials_file(path: Path) -> Credentials:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read upstream credentials file {str(path)!r}: {exc.strerror}"
        raise SettingsError(msg) from exc
    first_line = text.splitlines()[0] if text.strip() else ""
    username, colon, password = first_line.strip().partition(":")
    if not colon or not username or not password:
        msg = (
            f"invalid upstream credentials file {str(path)!r}; its first line "
            "must be USERNAME:PASSWORD"
        )
        raise SettingsError(msg)
    return Credentials(username, password)


def prepare_folder(path: Path, option: str) -> None:
    """Create the folder `path` if it is missing and check that it takes new files.

    Raises `SettingsError` naming `option` and the path, so a gateway with an
    unusable spool or state folder fails at start-up, not at its first request.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        msg = f"{option} {str(path)!r} is not a folder; give the path of a folder"
        raise SettingsError(msg) from exc
    except OSError as exc:
        msg = (
            f"cannot create the {option} folder {str(path)!r}: {exc.strerror}; "
            "give a folder that exists or can be created"
        )
        raise SettingsError(msg) from exc
    try:
        # The same call that creates spool files, so this checks what they need.
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        msg = (
            f"cannot write to the {option} folder {str(path)!r}: {exc.strerror}; "
            "give a folder that this user can write to"
        )
        raise SettingsError(msg) from exc
