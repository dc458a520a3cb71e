"""Store built image layouts in a cache directory, safely against interruption.

A layout is built in a temporary work directory inside the cache directory and
renamed into place when it is complete. A rename within one file system is
atomic, so readers see either no layout or a whole one. A lock file per image
(`flock`) makes a second build of the same image wait for the first and reuse
its result.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

from main.errors import StackError
from main.stack.cleanup import process_exists
from main.stack.layout import ImageLayout, read_layout

__all__ = [
    "build_lock",
    "default_cache_dir",
    "make_work_dir",
    "publish",
    "read_cached",
    "remove_stale_work_dirs",
    "remove_work_dir",
]

logger = logging.getLogger(__name__)

_WORK_PREFIX = ".build-"
_LOCK_POLL_SECONDS = 0.5


def default_cache_dir() -> Path:
    """Return $XDG_CACHE_HOME/registry-mirror/images, or ~/.cache/... without it."""
    configured = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative path.
    base = Path(configured)
    if not base.is_absolute():
        base = Path.home() / ".cache"
    return base / "registry-mirror" / "images"


def read_cached(target: Path) -> ImageLayout | None:
    """Return the layout stored at `target`, or None when there is none.

    An unreadable layout is deleted, so that the caller builds it again.
    """
    if not (target / "index.json").is_file():
        return None
    try:
        return read_layout(target)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        logger.warning("cached image %s is unreadable (%s); rebuilding it", target, exc)
        shutil.rmtree(target)
        return None


@asynccontextmanager
async def build_lock(
    cache_dir: Path, name: str, max_wait: float, on_wait: Callable[[], None]
) -> AsyncIterator[None]:
    """Hold an exclusive lock on building `name` in `cache_dir`.

    Waits up to `max_wait` seconds for a build in another process or task,
    calling `on_wait` once when it has to wait. The kernel releases the lock
    when its holder exits, so a killed build never blocks the next one.
    """
    _ensure_cache_dir(cache_dir)
    try:
        descriptor = os.open(cache_dir / f".{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _cache_dir_error(cache_dir, exc) from exc
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            await _wait_for_lock(descriptor, cache_dir / name, max_wait)
        yield
    finally:
        # Closing the descriptor releases the lock.
        os.close(descriptor)


async def _wait_for_lock(descriptor: int, target: Path, max_wait: float) -> None:
    try:
        with anyio.fail_after(max_wait):
            while True:
                await anyio.sleep(_LOCK_POLL_SECONDS)
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    continue
    except TimeoutError as exc:
        msg = (
            f"another process has been building {target} for more than "
            f"{max_wait:g} s; stop it or wait for it, then try again"
        )
        raise StackError(msg) from exc


def make_work_dir(cache_dir: Path, name: str) -> Path:
    """Create a fresh work directory for building `name` inside `cache_dir`.

    Its name carries the process ID, so that `remove_stale_work_dirs` can tell
    the work directories of killed processes from those of running builds.
    """
    _ensure_cache_dir(cache_dir)
    prefix = f"{_WORK_PREFIX}{os.getpid()}-{name}-"
    try:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=cache_dir))
    except OSError as exc:
        raise _cache_dir_error(cache_dir, exc) from exc


def remove_stale_work_dirs(cache_dir: Path) -> None:
    """Delete work directories left behind by build processes that are gone."""
    if not cache_dir.is_dir():
        return
    for work_dir in cache_dir.glob(f"{_WORK_PREFIX}*"):
        pid_text = work_dir.name.removeprefix(_WORK_PREFIX).partition("-")[0]
        if pid_text.isdigit() and not process_exists(int(pid_text)):
            logger.info("removing %s, left by process %s", work_dir, pid_text)
            remove_work_dir(work_dir)


def publish(built: Path, target: Path) -> None:
    """Rename the finished layout into place, unless another build won the race."""
    try:
        built.rename(target)
    except OSError:
        if not (target / "index.json").is_file():
            raise
        logger.info("image %s was stored by another build; keeping it", target)


def remove_work_dir(work_dir: Path) -> None:
    """Delete a work directory, unless something is still mounted below it."""
    mounts = _mounts_under(work_dir)
    if mounts:
        # A recursive delete would follow into a mounted /proc or /dev.
        logger.error(
            "not removing %s: %s still mounted there; unmount and delete it",
            work_dir,
            ", ".join(mounts),
        )
        return
    shutil.rmtree(work_dir, ignore_errors=True)


def _ensure_cache_dir(cache_dir: Path) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cache_dir_error(cache_dir, exc) from exc


def _cache_dir_error(cache_dir: Path, exc: OSError) -> StackError:
    msg = (
        f"cannot write to the image cache directory {cache_dir}: "
        f"{exc.strerror}; choose a writable directory or set XDG_CACHE_HOME"
    )
    return StackError(msg)


def _mounts_under(directory: Path) -> list[str]:
    """Return mount points at or below `directory`, from /proc/self/mountinfo."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    prefix = str(directory.resolve())
    points = []
    for line in lines:
        fields = line.split()
        # Field 5 is the mount point, with spaces and the like octal-escaped.
        point = fields[4].encode().decode("unicode_escape") if len(fields) > 4 else ""
        if point == prefix or point.startswith(f"{prefix}/"):
            points.append(point)
    return points
