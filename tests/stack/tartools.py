"""Build tiny root filesystems, layers and layouts, and read layers back."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from main.stack.layers import read_tree, split_tree, write_layer
from main.stack.layout import (
    ImageLayout,
    LayoutPlatform,
    RuntimeConfig,
    read_layout,
    write_image,
    write_index,
)

EPOCH = 1_700_000_000


@dataclass(frozen=True)
class Member:
    """A member of a test tarball: `data` for files, `link` for links."""

    name: str
    kind: str = "file"
    data: bytes = b""
    link: str = ""
    mtime: int = EPOCH - 100
    mode: int = 0o644


def write_tar(path: Path, members: list[Member]) -> Path:
    """Write the members, in the given order, as an uncompressed tar."""
    kinds = {
        "file": tarfile.REGTYPE,
        "dir": tarfile.DIRTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
        "chardev": tarfile.CHRTYPE,
        "fifo": tarfile.FIFOTYPE,
    }
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type = kinds[member.kind]
            info.mtime = member.mtime
            info.mode = 0o755 if member.kind == "dir" else member.mode
            info.linkname = member.link
            if member.kind == "file":
                info.size = len(member.data)
                tar.addfile(info, io.BytesIO(member.data))
            else:
                tar.addfile(info)
    return path


def small_root() -> list[Member]:
    """Return a root like mmdebstrap's: `./` names, dirs first, one device node."""
    return [
        Member("./", "dir"),
        Member("./dev/", "dir"),
        Member("./dev/null", "chardev"),
        Member("./bin", "symlink", link="usr/bin"),
        Member("./etc/", "dir"),
        Member("./etc/passwd", data=b"root:x:0:0:root:/root:/bin/bash\n"),
        Member("./usr/", "dir"),
        Member("./usr/bin/", "dir"),
        Member("./usr/bin/sh", data=b"#!shell\n", mode=0o755, mtime=EPOCH + 999),
        Member("./usr/bin/sh-link", "hardlink", link="./usr/bin/sh"),
        Member("./usr/lib/", "dir"),
        Member("./usr/lib/libc.so", data=b"\x7fELF" + b"c" * 3000),
        Member("./usr/share/", "dir"),
        Member("./usr/share/doc/", "dir"),
        Member("./usr/share/doc/sh/", "dir"),
        Member("./usr/share/doc/sh/copyright", data=b"GPL\n"),
        Member("./usr/share/doc/sh/changelog.gz", data=b"changes"),
        Member("./usr/share/doc/sh/NEWS", "hardlink", link="./usr/bin/sh"),
    ]


def gunzip_members(blob: Path) -> list[tarfile.TarInfo]:
    """Return the members of a gzip layer, in archive order."""
    with tarfile.open(blob, "r:gz") as tar:
        return tar.getmembers()


def read_member(blob: Path, name: str) -> bytes:
    """Return the content of one regular file in a gzip layer."""
    with tarfile.open(blob, "r:gz") as tar:
        extracted = tar.extractfile(name)
        assert extracted is not None
        return extracted.read()


def sha256_of(data: bytes) -> str:
    """Return the OCI digest of `data`."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def uncompressed(blob: Path) -> bytes:
    """Return the uncompressed tar of a gzip layer."""
    return gzip.decompress(blob.read_bytes())


def find_in_layers(layers: list[Path], name: str) -> tarfile.TarInfo | None:
    """Return the header of `name` from the first gzip layer that has it."""
    for layer in layers:
        with tarfile.open(layer, "r:gz") as tar:
            try:
                return tar.getmember(name)
            except KeyError:
                continue
    return None


def read_from_layers(layers: list[Path], name: str, size: int) -> bytes:
    """Return the first `size` bytes of file `name` from the gzip layers."""
    for layer in layers:
        with tarfile.open(layer, "r:gz") as tar:
            try:
                extracted = tar.extractfile(name)
            except KeyError:
                continue
            assert extracted is not None
            return extracted.read(size)
    raise KeyError(name)


def write_tiny_layout(tmp_path: Path, file_size: int = 1000) -> ImageLayout:
    """Write a one-platform layout whose only layer contains random bytes."""
    tar = write_tar(
        tmp_path / "root.tar",
        [Member("data", "dir"), Member("data/blob", data=os.urandom(file_size))],
    )
    layout_dir = tmp_path / "layout"
    (plan,) = split_tree(read_tree(tar, EPOCH), ("",), EPOCH)
    layer = write_layer(plan, layout_dir / "blobs" / "sha256")
    manifest = write_image(
        layout_dir,
        LayoutPlatform("amd64"),
        [layer],
        RuntimeConfig(env=(), cmd=("true",)),
        epoch=EPOCH,
        created_by=["test"],
    )
    write_index(layout_dir, [manifest], "tiny")
    return read_layout(layout_dir)
