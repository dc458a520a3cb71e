"""Temporary folders that record their owner, and removal of orphaned ones.

A process killed with SIGKILL runs no cleanup, so the embedded stack's
temporary folders (registry storage, configs, logs) would stay behind.
`make_owned_temp_dir` writes an owner marker into each folder it creates, and
`remove_orphaned_temp_dirs`, called when the next stack starts, removes the
folders whose owner has exited. A folder without a readable marker is never
touched, nor is anything outside the `registry-mirror-` prefix.

The marker stores the owner's pid, its start time in clock ticks since boot
(field 22 of `/proc/PID/stat`) and the kernel's boot id. A pid reused by
another process or a folder from before a reboot therefore counts as orphaned.
Where `/proc` is missing, only the pid is compared.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MARKER_NAME",
    "TEMP_PREFIX",
    "OwnerRecord",
    "make_owned_temp_dir",
    "remove_orphaned_temp_dirs",
]

logger = logging.getLogger(__name__)

TEMP_PREFIX = "registry-mirror-"
MARKER_NAME = ".registry-mirror-owner.json"

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_PROC_SELF_STAT = Path("/proc/self/stat")
_MAX_MARKER_BYTES = 4096


@dataclass(frozen=True)
class OwnerRecord:
    """The process that created a temporary folder."""

    pid: int
    start_ticks: int | None
    boot_id: str | None

    @classmethod
    def current(cls) -> OwnerRecord:
        """Describe this process."""
        pid = os.getpid()
        return cls(pid, _start_ticks(pid), _boot_id())

    def to_json(self) -> str:
        document = {
            "pid": self.pid,
            "start_ticks": self.start_ticks,
            "boot_id": self.boot_id,
        }
        return json.dumps(document)

    @classmethod
    def from_json(cls, text: str) -> OwnerRecord | None:
        """Parse a marker, or return None when this module did not write it."""
        try:
            document = json.loads(text)
        except ValueError:
            return None
        if not isinstance(document, dict):
            return None
        pid = document.get("pid")
        ticks = document.get("start_ticks")
        boot_id = document.get("boot_id")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None
        if ticks is not None and not isinstance(ticks, int):
            return None
        if boot_id is not None and not isinstance(boot_id, str):
            return None
        return cls(pid, ticks, boot_id)

    def is_alive(self) -> bool:
        """Return whether the owner process still runs."""
        current_boot = _boot_id()
        both_known = self.boot_id is not None and current_boot is not None
        if both_known and self.boot_id != current_boot:
            # The folder was created before the last reboot.
            return False
        if self.start_ticks is not None and _PROC_SELF_STAT.exists():
            return _start_ticks(self.pid) == self.start_ticks
        return process_exists(self.pid)


def make_owned_temp_dir(label: str, parent: Path | None = None) -> Path:
    """Create `registry-mirror-LABEL-*` in the temp folder and mark it as ours."""
    safe_label = "-".join(label.split())
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{safe_label}-", dir=parent))
    (folder / MARKER_NAME).write_text(OwnerRecord.current().to_json())
    return folder


def remove_orphaned_temp_dirs(parent: Path | None = None) -> list[Path]:
    """Remove the marked temporary folders whose owner has exited, and list them.

    Only folders named `registry-mirror-*` that belong to this user and hold a
    valid marker are candidates, so folders of other users, of running
    processes and of anything else in the temp folder stay.
    """
    root = parent if parent is not None else Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        candidates = sorted(root.glob(f"{TEMP_PREFIX}*"))
    except OSError as exc:
        logger.warning("cannot list %s for orphaned folders: %s", root, exc)
        return removed
    for folder in candidates:
        owner = _read_owner(folder)
        if owner is None or owner.is_alive():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        logger.info("removed %s left by exited process %s", folder, owner.pid)
        removed.append(folder)
    return removed


def _read_owner(folder: Path) -> OwnerRecord | None:
    try:
        folder_stat = folder.lstat()
        if not stat.S_ISDIR(folder_stat.st_mode):
            return None
        if folder_stat.st_uid != os.getuid():
            return None
        marker = folder / MARKER_NAME
        if not stat.S_ISREG(marker.lstat().st_mode):
            return None
        with marker.open("rb") as marker_file:
            text = marker_file.read(_MAX_MARKER_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return OwnerRecord.from_json(text)


def _start_ticks(pid: int) -> int | None:
    """Return the start time of a running process, None if it has exited."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in field 2 may contain spaces and parentheses, so the
    # fields are counted from the last ')'. Field 3 is the state, where Z is a
    # process that has exited but was not yet reaped, and field 22 the start.
    fields = text.rpartition(")")[2].split()
    if not fields or fields[0] == "Z":
        return None
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _boot_id() -> str | None:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return None


def process_exists(pid: int) -> bool:
    """Return whether a process with `pid` exists, without affecting it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
