"""Tests for splitting a root filesystem tarball into gzip layers."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from main.errors import StackError
from main.stack.layers import (
    add_missing,
    drop_paths,
    read_tree,
    split_tree,
    write_layer,
)
from tests.stack.tartools import (
    EPOCH,
    Member,
    gunzip_members,
    read_member,
    sha256_of,
    small_root,
    uncompressed,
    write_tar,
)

ROOTS = ("", "usr/share", "usr", "usr/lib")


@pytest.fixture
def root_tar(tmp_path: Path) -> Path:
    return write_tar(tmp_path / "root.tar", small_root())


def test_read_tree_normalises_names(root_tar: Path) -> None:
    tree = read_tree(root_tar, EPOCH)

    assert "usr/bin/sh" in tree
    assert "usr/bin" in tree
    assert "" not in tree
    assert not any(name.startswith("./") for name in tree)


def test_read_tree_drops_device_nodes(root_tar: Path) -> None:
    tree = read_tree(root_tar, EPOCH)

    assert "dev/null" not in tree
    assert tree["dev"].header.isdir()


def test_read_tree_clamps_mtime_to_epoch(root_tar: Path) -> None:
    tree = read_tree(root_tar, EPOCH)

    assert tree["usr/bin/sh"].header.mtime == EPOCH
    assert tree["etc/passwd"].header.mtime == EPOCH - 100


def test_read_tree_keeps_links(root_tar: Path) -> None:
    tree = read_tree(root_tar, EPOCH)

    assert tree["bin"].header.issym()
    assert tree["bin"].header.linkname == "usr/bin"
    assert tree["usr/bin/sh-link"].header.islnk()
    assert tree["usr/bin/sh-link"].header.linkname == "usr/bin/sh"


def test_read_tree_rejects_dangling_hardlink(tmp_path: Path) -> None:
    tar = write_tar(tmp_path / "bad.tar", [Member("a", "hardlink", link="missing")])

    with pytest.raises(StackError, match="points to a missing file"):
        read_tree(tar, EPOCH)


def test_drop_paths_keeps_listed_exceptions(root_tar: Path) -> None:
    tree = read_tree(root_tar, EPOCH)

    kept = drop_paths(tree, ["usr/share/doc/*"], ["usr/share/doc/*/copyright"])

    assert "usr/share/doc/sh/copyright" in kept
    assert "usr/share/doc/sh/changelog.gz" not in kept
    assert "usr/share/doc/sh" not in kept
    assert "usr/share/doc" in kept


def test_add_missing_copies_absent_paths(tmp_path: Path) -> None:
    native = read_tree(
        write_tar(tmp_path / "a.tar", [Member("etc", "dir"), Member("etc/a")]),
        EPOCH,
    )
    donor = read_tree(
        write_tar(
            tmp_path / "b.tar",
            [
                Member("etc", "dir"),
                Member("etc/a", data=b"donor"),
                Member("etc/passwd"),
                Member("etc/ld.so.cache"),
                Member("lib64", "dir"),
                Member("lib64/ld.so"),
                Member("opt", "dir"),
            ],
        ),
        EPOCH,
    )

    merged = add_missing(native, donor, skip=["etc/ld.so.cache", "lib64"])

    assert merged["etc/a"] is native["etc/a"]
    assert "etc/passwd" in merged
    assert "opt" in merged
    assert "etc/ld.so.cache" not in merged
    assert "lib64/ld.so" not in merged


def test_split_tree_uses_longest_root(root_tar: Path) -> None:
    tree = read_tree(root_tar, EPOCH)

    plans = split_tree(tree, ROOTS, EPOCH)

    own = {plan.root: {e.name for e in plan.entries} for plan in plans}
    assert "etc/passwd" in own[""]
    assert "usr/share/doc/sh/copyright" in own["usr/share"]
    assert "usr/bin/sh" in own["usr"]
    assert "usr/lib/libc.so" in own["usr/lib"]
    assert "usr/lib/libc.so" not in own["usr"]


def test_split_tree_adds_parent_directories(root_tar: Path) -> None:
    tree = read_tree(root_tar, EPOCH)

    plans = split_tree(tree, ROOTS, EPOCH)

    lib_layer = next(plan for plan in plans if plan.root == "usr/lib")
    names = [entry.name for entry in lib_layer.entries]
    assert names == ["usr", "usr/lib", "usr/lib/libc.so"]
    assert lib_layer.entries[0].header.mtime == EPOCH - 100


def test_split_tree_synthesises_missing_parents(tmp_path: Path) -> None:
    tree = read_tree(write_tar(tmp_path / "r.tar", [Member("a/b/c")]), EPOCH)

    (plan,) = split_tree(tree, ("",), EPOCH)

    parents = [entry.header for entry in plan.entries[:2]]
    assert [header.name for header in parents] == ["a", "a/b"]
    assert all(header.isdir() for header in parents)
    assert all(header.mtime == EPOCH for header in parents)


def test_split_tree_puts_hardlink_beside_target(root_tar: Path) -> None:
    tree = read_tree(root_tar, EPOCH)

    plans = split_tree(tree, ROOTS, EPOCH)

    usr = next(plan for plan in plans if plan.root == "usr")
    share = next(plan for plan in plans if plan.root == "usr/share")
    names = [entry.name for entry in usr.entries]
    assert "usr/share/doc/sh/NEWS" in names
    assert "usr/share/doc/sh/NEWS" not in {e.name for e in share.entries}
    assert names[-2:] == ["usr/bin/sh-link", "usr/share/doc/sh/NEWS"]


def test_split_tree_turns_orphan_hardlink_into_file(root_tar: Path) -> None:
    tree = read_tree(root_tar, EPOCH)
    del tree["usr/bin/sh"]

    plans = split_tree(tree, ROOTS, EPOCH)

    usr = next(plan for plan in plans if plan.root == "usr")
    link = next(e for e in usr.entries if e.name == "usr/bin/sh-link")
    assert link.header.isreg()
    assert link.header.size == len(b"#!shell\n")


def test_split_tree_skips_empty_layers(tmp_path: Path) -> None:
    tree = read_tree(write_tar(tmp_path / "r.tar", [Member("etc/a")]), EPOCH)

    plans = split_tree(tree, ROOTS, EPOCH)

    assert [plan.root for plan in plans] == [""]


def test_split_tree_without_catch_all_root_fails(root_tar: Path) -> None:
    tree = read_tree(root_tar, EPOCH)

    with pytest.raises(ValueError, match="no layer root contains"):
        split_tree(tree, ("usr",), EPOCH)


def test_write_layer_digest_matches_file(root_tar: Path, tmp_path: Path) -> None:
    plans = split_tree(read_tree(root_tar, EPOCH), ROOTS, EPOCH)

    blob = write_layer(plans[0], tmp_path / "blobs")

    assert blob.digest == sha256_of(blob.path.read_bytes())
    assert blob.path.name == blob.digest.removeprefix("sha256:")
    assert blob.size == blob.path.stat().st_size


def test_write_layer_diff_id_is_uncompressed_digest(
    root_tar: Path, tmp_path: Path
) -> None:
    plans = split_tree(read_tree(root_tar, EPOCH), ROOTS, EPOCH)

    blob = write_layer(plans[2], tmp_path / "blobs")

    tar_bytes = uncompressed(blob.path)
    assert blob.diff_id == sha256_of(tar_bytes)
    assert blob.uncompressed_size == len(tar_bytes)


def test_write_layer_is_deterministic(root_tar: Path, tmp_path: Path) -> None:
    plans = split_tree(read_tree(root_tar, EPOCH), ROOTS, EPOCH)

    first = write_layer(plans[2], tmp_path / "one")
    second = write_layer(plans[2], tmp_path / "two")

    assert first.digest == second.digest
    assert first.path.read_bytes() == second.path.read_bytes()


def test_write_layer_gzip_header_has_no_time(root_tar: Path, tmp_path: Path) -> None:
    plans = split_tree(read_tree(root_tar, EPOCH), ROOTS, EPOCH)

    header = write_layer(plans[0], tmp_path).path.read_bytes()[:10]

    assert header[:3] == b"\x1f\x8b\x08"
    # FLG byte without FNAME, then a zero MTIME field.
    assert header[3] & 0x08 == 0
    assert header[4:8] == b"\x00\x00\x00\x00"


def test_write_layer_keeps_content_and_order(root_tar: Path, tmp_path: Path) -> None:
    plans = split_tree(read_tree(root_tar, EPOCH), ROOTS, EPOCH)
    usr = next(plan for plan in plans if plan.root == "usr")

    blob = write_layer(usr, tmp_path)

    members = gunzip_members(blob.path)
    names = [member.name for member in members]
    assert names == [
        "usr",
        "usr/bin",
        "usr/bin/sh",
        "usr/share",
        "usr/share/doc",
        "usr/share/doc/sh",
        "usr/bin/sh-link",
        "usr/share/doc/sh/NEWS",
    ]
    assert read_member(blob.path, "usr/bin/sh") == b"#!shell\n"
    assert members[2].mode == 0o755
    assert members[6].type == tarfile.LNKTYPE


def test_write_layer_has_no_whiteouts(root_tar: Path, tmp_path: Path) -> None:
    plans = split_tree(read_tree(root_tar, EPOCH), ROOTS, EPOCH)

    names = [
        member.name
        for plan in plans
        for member in gunzip_members(write_layer(plan, tmp_path).path)
    ]

    assert not any(name.rpartition("/")[2].startswith(".wh.") for name in names)


def test_write_layer_cleans_up_on_error(tmp_path: Path) -> None:
    source = write_tar(tmp_path / "r.tar", [Member("etc/a", data=b"x" * 100)])
    plans = split_tree(read_tree(source, EPOCH), ("",), EPOCH)
    source.write_bytes(b"")
    blob_dir = tmp_path / "blobs"

    with pytest.raises(OSError, match="unexpected end of data"):
        write_layer(plans[0], blob_dir)

    assert list(blob_dir.iterdir()) == []
