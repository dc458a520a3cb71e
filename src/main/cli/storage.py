"""`registry-mirror repair-storage`: fix what a killed mirror left on disk."""

from __future__ import annotations

from pathlib import Path

import typer

from main.cli.app import app
from main.errors import UsageError
from main.stack.storage_repair import repair_proxy_storage


@app.command("repair-storage")
def repair_storage(
    storage_root: Path = typer.Argument(
        ...,
        help="The mirror's storage root (distribution's "
        "storage.filesystem.rootdirectory), such as /var/lib/registry.",
    ),
) -> None:
    """Repair a stopped mirror's storage after a crash; run it before the mirror."""
    if not storage_root.is_dir():
        msg = f"storage root '{storage_root}' is not a folder; give the mirror's root"
        raise UsageError(msg)

    repair = repair_proxy_storage(storage_root)

    if repair.scheduler_state is not None:
        print(f"moved an unreadable scheduler state to {repair.scheduler_state}")
    for digest in repair.removed_blobs:
        print(f"removed blob {digest}, whose content did not match its digest")
    if repair.scheduler_state is None and not repair.removed_blobs:
        print(f"storage {storage_root}: nothing to repair")
