"""Split a root filesystem tarball into deterministic gzip layers.

A root filesystem is read into a tree of tar headers keyed by path, filtered,
optionally completed from another tree, and split by path prefix into a few
layers. Every layer is a whiteout-free tar of part of the root with its parent
directories, so the layers can be applied in any order.

The same tree always gives the same bytes: members sorted by path, mtimes
clamped to the build epoch, access and change times dropped, and gzip headers
without a file name or time. The layer digest and its diff ID (the digest of
the uncompressed tar) are hashed while the layer is written.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from main.errors import StackError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = [
    "GZIP_LEVEL",
    "Entry",
    "LayerBlob",
    "LayerPlan",
    "add_missing",
    "drop_paths",
    "read_tree",
    "split_tree",
    "write_layer",
]

# The default level of gzip(1) and zlib.
GZIP_LEVEL = 6
# Extended attributes (file capabilities, ACLs) matter; atime and ctime do not.
_KEPT_PAX_PREFIX = "SCHILY.xattr."


@dataclass(frozen=True)
class Entry:
    """A tar member to write: its clean header and where its file data lives.

    For a hard link, `source`, `offset` and `data_size` point at the data of
    the link target, so the link can become a regular file when its target
    ends up in another layer or is dropped.
    """

    header: tarfile.TarInfo = field(compare=False)
    source: Path | None = None
    offset: int = 0
    data_size: int = 0

    @property
    def name(self) -> str:
        """Path in the root, without `./` and without a trailing slash."""
        return self.header.name


@dataclass(frozen=True)
class LayerPlan:
    """The members of one layer, in the order they are written."""

    root: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class LayerBlob:
    """A written gzip layer: its digest, diff ID and sizes."""

    root: str
    digest: str
    diff_id: str
    size: int
    uncompressed_size: int
    path: Path


def read_tree(tar_path: Path, epoch: int) -> dict[str, Entry]:
    """Read the members of a tarball as entries keyed by path.

    Device nodes and FIFOs are left out: container runtimes create /dev
    themselves, and rootless ones cannot unpack device nodes. Modification
    times later than `epoch` are set to `epoch`.
    """
    tree: dict[str, Entry] = {}
    with tarfile.open(tar_path, mode="r:") as tar:
        for member in tar:
            name = _normalize(member.name)
            if not name:
                continue
            if member.issparse():
                msg = f"sparse file {member.name} in {tar_path} is not supported"
                raise StackError(msg)
            if member.islnk():
                tree[name] = _hardlink_entry(member, name, tree, tar_path)
            elif member.isreg() or member.isdir() or member.issym():
                tree[name] = _member_entry(member, name, tar_path, epoch)
    return tree


def drop_paths(
    tree: Mapping[str, Entry], exclude: Sequence[str], keep: Sequence[str] = ()
) -> dict[str, Entry]:
    """Return the tree without paths matching `exclude`, unless they match `keep`.

    Patterns are shell-style and `*` also matches `/`, so `usr/share/man/*`
    covers the whole subtree. Directories that still contain kept files come
    back when the layers are split.
    """
    return {
        name: entry
        for name, entry in tree.items()
        if not _matches(name, exclude) or _matches(name, keep)
    }


def add_missing(
    tree: Mapping[str, Entry], donor: Mapping[str, Entry], skip: Sequence[str]
) -> dict[str, Entry]:
    """Return the tree completed with donor paths it lacks.

    Donor paths matching `skip` are not added, nor symbolic links whose target
    matches, nor paths whose parent directory is missing from the result.
    """
    merged = dict(tree)
    for name in sorted(donor):
        header = donor[name].header
        if name in merged or _matches(name, skip):
            continue
        if header.issym() and _matches(header.linkname.lstrip("/"), skip):
            continue
        parent = _parent(name)
        if parent and not (parent in merged and merged[parent].header.isdir()):
            continue
        merged[name] = donor[name]
    return merged


def split_tree(
    tree: Mapping[str, Entry], roots: Sequence[str], epoch: int
) -> list[LayerPlan]:
    """Split the tree into one layer per root path, in the order of `roots`.

    A path goes to the layer of the longest root that contains it; the root ""
    takes everything else. A hard link goes to the layer of its target, or
    becomes a regular file when the target is not in the tree. Layers that
    would be empty are left out.
    """
    members: list[list[Entry]] = [[] for _ in roots]
    for name, entry in tree.items():
        if entry.header.islnk():
            target = entry.header.linkname
            if target in tree:
                members[_layer_of(target, roots)].append(entry)
                continue
            entry = _as_regular_file(entry)
        members[_layer_of(name, roots)].append(entry)

    plans = []
    for root, entries in zip(roots, members, strict=True):
        if entries:
            ordered = _with_parents(entries, tree, epoch)
            plans.append(LayerPlan(root=root, entries=tuple(ordered)))
    return plans


def write_layer(plan: LayerPlan, blob_dir: Path) -> LayerBlob:
    """Write the layer as a gzip tar blob named by its digest under `blob_dir`."""
    blob_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".layer-", dir=blob_dir)
    try:
        with os.fdopen(handle, "wb") as raw:
            compressed = _HashingWriter(raw)
            with gzip.GzipFile(
                filename="",
                mode="wb",
                fileobj=compressed,
                mtime=0,
                compresslevel=GZIP_LEVEL,
            ) as gz:
                plain = _HashingWriter(gz)
                _write_tar(plan.entries, plain)
        digest = f"sha256:{compressed.hexdigest()}"
        path = blob_dir / digest.removeprefix("sha256:")
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return LayerBlob(
        root=plan.root,
        digest=digest,
        diff_id=f"sha256:{plain.hexdigest()}",
        size=compressed.count,
        uncompressed_size=plain.count,
        path=path,
    )


def _write_tar(entries: Iterable[Entry], output: _HashingWriter) -> None:
    sources: dict[Path, BinaryIO] = {}
    try:
        # Stream mode only calls write(), so the output needs no seek or tell.
        with tarfile.open(
            fileobj=output,
            mode="w|",
            format=tarfile.PAX_FORMAT,
            encoding="utf-8",
        ) as tar:
            for entry in entries:
                if entry.header.isreg() and entry.source is not None:
                    source = sources.get(entry.source)
                    if source is None:
                        source = sources[entry.source] = entry.source.open("rb")
                    source.seek(entry.offset)
                    tar.addfile(entry.header, source)
                else:
                    tar.addfile(entry.header)
    finally:
        for source in sources.values():
            source.close()


class _HashingWriter(io.RawIOBase):
    """A write-only file that hashes and counts bytes on their way through."""

    def __init__(self, target: BinaryIO | gzip.GzipFile) -> None:
        super().__init__()
        self._target = target
        self._hash = hashlib.sha256()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        view = memoryview(data)
        self._hash.update(view)
        self.count += view.nbytes
        self._target.write(view)
        return view.nbytes

    def flush(self) -> None:
        self._target.flush()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _normalize(name: str) -> str:
    name = name.removeprefix("./").strip("/")
    return "" if name == "." else name


def _member_entry(
    member: tarfile.TarInfo, name: str, tar_path: Path, epoch: int
) -> Entry:
    header = tarfile.TarInfo(name)
    header.type = tarfile.REGTYPE if member.isreg() else member.type
    header.mode = member.mode
    header.uid, header.gid = member.uid, member.gid
    header.uname, header.gname = member.uname, member.gname
    header.mtime = min(int(member.mtime), epoch)
    header.linkname = member.linkname if member.issym() else ""
    header.pax_headers = {
        key: value
        for key, value in member.pax_headers.items()
        if key.startswith(_KEPT_PAX_PREFIX)
    }
    if not member.isreg():
        return Entry(header)
    header.size = member.size
    return Entry(header, tar_path, member.offset_data, member.size)


def _hardlink_entry(
    member: tarfile.TarInfo, name: str, tree: Mapping[str, Entry], tar_path: Path
) -> Entry:
    target_name = _normalize(member.linkname)
    target = tree.get(target_name)
    if target is None or not target.header.isreg():
        msg = f"hard link {member.name} in {tar_path} points to a missing file"
        raise StackError(msg)
    header = _copy_header(target.header, name)
    header.type = tarfile.LNKTYPE
    header.linkname = target_name
    header.size = 0
    return Entry(header, target.source, target.offset, target.data_size)


def _as_regular_file(entry: Entry) -> Entry:
    header = _copy_header(entry.header, entry.name)
    header.type = tarfile.REGTYPE
    header.linkname = ""
    header.size = entry.data_size
    return replace(entry, header=header)


def _copy_header(header: tarfile.TarInfo, name: str) -> tarfile.TarInfo:
    copy = tarfile.TarInfo(name)
    for attribute in ("type", "mode", "uid", "gid", "uname", "gname", "mtime"):
        setattr(copy, attribute, getattr(header, attribute))
    copy.linkname = header.linkname
    copy.size = header.size
    copy.pax_headers = dict(header.pax_headers)
    return copy


def _with_parents(
    entries: list[Entry], tree: Mapping[str, Entry], epoch: int
) -> list[Entry]:
    """Add missing parent directories, then order: parents first, links last."""
    by_name = {entry.name: entry for entry in entries}
    for entry in entries:
        parent = _parent(entry.name)
        while parent and parent not in by_name:
            known = tree.get(parent)
            by_name[parent] = known if known else _directory(parent, epoch)
            parent = _parent(parent)

    # Sorting by path puts every directory before its contents. Hard links go
    # last because their targets must already be unpacked.
    return sorted(by_name.values(), key=lambda e: (e.header.islnk(), e.name))


def _directory(name: str, epoch: int) -> Entry:
    header = tarfile.TarInfo(name)
    header.type = tarfile.DIRTYPE
    header.mode = 0o755
    header.mtime = epoch
    return Entry(header)


def _layer_of(name: str, roots: Sequence[str]) -> int:
    best, best_length = -1, -1
    for index, root in enumerate(roots):
        inside = not root or name == root or name.startswith(f"{root}/")
        if inside and len(root) > best_length:
            best, best_length = index, len(root)
    if best < 0:
        msg = f"no layer root contains {name!r}; add the root '' to the layer roots"
        raise ValueError(msg)
    return best


def _parent(name: str) -> str:
    return name.rpartition("/")[0]


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
