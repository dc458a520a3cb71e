"""Write the rendered kustomize base to a directory in one step."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

from main.errors import UsageError
from main.render.kustomize import HEADER, render_manifests
from main.settings import Settings

__all__ = ["write_manifests"]


def write_manifests(settings: Settings, out_dir: Path) -> list[Path]:
    """Render the manifests and replace `out_dir` with them; return the files.

    The files are written to a new directory beside `out_dir`, which then
    takes its place, so a failure leaves the old directory as it was and no
    half-written file. Everything in `out_dir` is replaced, including files
    that the renderer no longer produces, so an existing `out_dir` may hold
    only `*.yaml` files: any other entry raises UsageError, because replacing
    a folder such as /etc or a project root would delete it.
    """
    files = render_manifests(settings)
    target = out_dir.absolute()
    if target.exists() and not target.is_dir():
        msg = f"output {str(out_dir)!r} is a file; pass a directory path"
        raise UsageError(msg)
    _check_replaceable(out_dir, target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        msg = f"cannot create {str(out_dir)!r}: {exc.strerror}; choose a writable path"
        raise UsageError(msg) from exc
    try:
        staging.chmod(0o755)
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        _replace_directory(staging, target)
    except OSError as exc:
        msg = f"cannot write manifests to {str(out_dir)!r}: {exc.strerror}"
        raise UsageError(msg) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [target / name for name in sorted(files)]


def _check_replaceable(out_dir: Path, target: Path) -> None:
    """Raise UsageError unless `target` is missing or holds only YAML files."""
    if not target.is_dir():
        return
    try:
        entries = sorted(target.iterdir())
    except OSError as exc:
        msg = f"cannot read {str(out_dir)!r}: {exc.strerror}; choose a readable path"
        raise UsageError(msg) from exc
    for entry in entries:
        if not _is_rendered(entry):
            msg = (
                f"output {str(out_dir)!r} holds {entry.name!r}, which is not a "
                "rendered manifest, and render replaces the whole folder; pass "
                "a new or empty folder, or the folder of an earlier render"
            )
            raise UsageError(msg)


def _is_rendered(entry: Path) -> bool:
    """Return whether `entry` is a YAML file that starts with render's header.

    Only such files may be replaced: a folder of someone else's manifests is
    as precious as /etc.
    """
    if entry.suffix != ".yaml" or entry.is_symlink() or not entry.is_file():
        return False
    try:
        with entry.open("r", encoding="utf-8", errors="replace") as stream:
            first_line = stream.readline()
    except OSError:
        return False
    return first_line == HEADER


def _replace_directory(staging: Path, target: Path) -> None:
    """Move `staging` to `target`, putting the old `target` back on failure."""
    if not target.exists():
        staging.rename(target)
        return
    backup = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
    target.rename(backup)
    try:
        staging.rename(target)
    except OSError:
        backup.rename(target)
        raise
    shutil.rmtree(backup, ignore_errors=True)
