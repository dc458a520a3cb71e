"""Tests for the image specs, the image cache and the real small image."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import anyio
import pytest

from main.errors import StackError
from main.stack import images
from main.stack.images import (
    DEFAULT_IMAGES,
    SMALL_IMAGE,
    BuildStep,
    arm64_packages,
    default_cache_dir,
    ensure_image,
)
from main.stack.layout import ImageLayout
from main.stack.rootfs import debian_sources
from tests.stack.processes import processes_mentioning
from tests.stack.tartools import (
    find_in_layers,
    read_from_layers,
    write_tiny_layout,
)

SOURCES = debian_sources("bookworm")
ELF_MACHINE = {"amd64": 62, "arm64": 183}


def layer_paths(layout: ImageLayout, index: int) -> list[Path]:
    image = layout.platforms[index]
    return [layout.blob_path(layer.digest) for layer in image.layers]


def test_default_images_use_docker_hub_names() -> None:
    references = [spec.reference for spec in DEFAULT_IMAGES]

    assert references == [
        "library/debian:bookworm-slim",
        "library/python:3.11-slim-bookworm",
        "library/gcc:12-bookworm",
    ]
    assert DEFAULT_IMAGES[0] is SMALL_IMAGE


def test_cache_name_is_stable() -> None:
    name = SMALL_IMAGE.cache_name(SOURCES)

    assert name == SMALL_IMAGE.cache_name(SOURCES)
    assert name.startswith("library_debian_bookworm-slim-")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"include": ("python3",)}, id="packages"),
        pytest.param({"slim": False}, id="slim"),
        pytest.param({"cmd": ("sh",)}, id="cmd"),
        pytest.param({"epoch": 1}, id="epoch"),
    ],
)
def test_cache_name_follows_spec(change: dict[str, object]) -> None:
    changed = dataclasses.replace(SMALL_IMAGE, **change)  # type: ignore[arg-type]

    assert changed.cache_name(SOURCES) != SMALL_IMAGE.cache_name(SOURCES)


def test_cache_name_follows_sources() -> None:
    other = debian_sources("bookworm", "http://127.0.0.1:9")

    assert SMALL_IMAGE.cache_name(other) != SMALL_IMAGE.cache_name(SOURCES)


def test_arm64_packages_drop_x86_names() -> None:
    amd64 = ("binutils", "binutils-x86-64-linux-gnu", "libc6", "libquadmath0")

    assert arm64_packages(amd64) == ("binutils", "libc6", "libquadmath0")


def test_default_cache_dir_uses_xdg(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    assert default_cache_dir() == tmp_path / "registry-mirror" / "images"


def test_default_cache_dir_ignores_relative_xdg(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path))

    assert default_cache_dir() == tmp_path / ".cache" / "registry-mirror" / "images"


@pytest.mark.anyio
async def test_missing_mmdebstrap_is_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    cache = tmp_path / "cache"

    with pytest.raises(StackError) as caught:
        await ensure_image(SMALL_IMAGE, cache)

    assert str(caught.value) == (
        "mmdebstrap not found; install it with: apt-get install -y mmdebstrap"
    )
    assert not cache.exists()


@pytest.mark.anyio
async def test_unwritable_cache_dir_is_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    with pytest.raises(StackError, match="cannot write to the image cache"):
        await ensure_image(SMALL_IMAGE, blocker / "cache")


@pytest.mark.anyio
async def test_cached_image_is_not_rebuilt(
    small_image_layout: ImageLayout, tmp_path: Path
) -> None:
    cache = small_image_layout.path.parent
    steps: list[BuildStep] = []

    layout = await ensure_image(SMALL_IMAGE, cache, steps.append)

    assert layout == small_image_layout
    assert len(steps) == 1
    assert steps[0].message.startswith("using the cached image")


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the mmdebstrap pipeline with a one-second tiny layout build."""
    work_dirs: list[Path] = []

    async def build(
        spec: object, sources: object, work_dir: Path, reporter: object, limit: float
    ) -> Path:
        work_dirs.append(work_dir)
        await anyio.sleep(1)
        return write_tiny_layout(work_dir).path

    monkeypatch.setattr(images, "_build", build)
    return work_dirs


@pytest.mark.anyio
async def test_concurrent_calls_build_once(
    fake_build: list[Path], tmp_path: Path
) -> None:
    steps: list[BuildStep] = []

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(ensure_image, SMALL_IMAGE, tmp_path, steps.append)

    messages = [step.message for step in steps]
    assert len(fake_build) == 1
    assert messages.count("waiting for another process that builds this image") == 2
    assert sum(m.startswith("using the image another build") for m in messages) == 2
    assert not fake_build[0].exists()


@pytest.mark.anyio
async def test_failed_build_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async def build(*arguments: object) -> Path:
        msg = "mmdebstrap failed"
        raise StackError(msg)

    monkeypatch.setattr(images, "_build", build)

    with pytest.raises(StackError, match="mmdebstrap failed"):
        await ensure_image(SMALL_IMAGE, tmp_path)

    entries = [path.name async for path in anyio.Path(tmp_path).iterdir()]
    assert [name for name in entries if not name.endswith(".lock")] == []


@pytest.mark.slow
@pytest.mark.anyio
async def test_cancelled_build_leaves_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    started = anyio.Event()

    def on_step(step: BuildStep) -> None:
        started.set()

    async with anyio.create_task_group() as group:
        group.start_soon(ensure_image, SMALL_IMAGE, cache, on_step)
        await started.wait()
        # Long enough for mmdebstrap to create its temporary root.
        await anyio.sleep(3)
        group.cancel_scope.cancel()

    # Only the lock file stays: no layout and no work directory.
    entries = [path.name async for path in anyio.Path(cache).iterdir()]
    assert [name for name in entries if not name.endswith(".lock")] == []
    assert processes_mentioning(str(tmp_path)) == []


@pytest.mark.slow
@pytest.mark.anyio
async def test_concurrent_builds_share_one(tmp_path: Path) -> None:
    first: list[BuildStep] = []
    second: list[BuildStep] = []
    layouts: list[ImageLayout] = []

    async def build(steps: list[BuildStep]) -> None:
        layouts.append(await ensure_image(SMALL_IMAGE, tmp_path, steps.append))

    async with anyio.create_task_group() as group:
        group.start_soon(build, first)
        await anyio.sleep(0.5)
        group.start_soon(build, second)
    again = await ensure_image(SMALL_IMAGE, tmp_path)

    assert [step.step for step in first] == [1, 2, 3, 4, 5, 6]
    assert second[0].message.startswith("waiting for another process")
    assert second[-1].message.startswith("using the image another build stored")
    assert layouts[0] == layouts[1] == again
    entries = [path.name async for path in anyio.Path(tmp_path).iterdir()]
    assert sorted(entries) == sorted([again.path.name, f".{again.path.name}.lock"])


def test_small_image_platforms(small_image_layout: ImageLayout) -> None:
    platforms = [str(image.platform) for image in small_image_layout.platforms]

    assert platforms == ["linux/amd64", "linux/arm64/v8"]
    assert small_image_layout.tag == "bookworm-slim"


def test_small_image_has_four_layers(small_image_layout: ImageLayout) -> None:
    for image in small_image_layout.platforms:
        assert len(image.layers) == 4


@pytest.mark.parametrize(
    ("index", "architecture"),
    [pytest.param(0, "amd64", id="amd64"), pytest.param(1, "arm64", id="arm64")],
)
def test_small_image_binaries_match_platform(
    small_image_layout: ImageLayout, index: int, architecture: str
) -> None:
    layers = layer_paths(small_image_layout, index)

    header = read_from_layers(layers, "usr/bin/bash", 20)

    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == ELF_MACHINE[architecture]


def test_small_image_arm64_has_generated_files(
    small_image_layout: ImageLayout,
) -> None:
    layers = layer_paths(small_image_layout, 1)

    passwd = read_from_layers(layers, "etc/passwd", 4096)

    assert passwd.startswith(b"root:x:0:0:")
    assert find_in_layers(layers, "usr/bin/awk") is not None
    assert find_in_layers(layers, "etc/ld.so.cache") is None
    # The extract variant registers no package, and amd64's database would
    # describe amd64 files, so the arm64 dpkg database stays empty.
    assert read_from_layers(layers, "var/lib/dpkg/status", 1 << 20) == b""


def test_small_image_amd64_has_dpkg_database(
    small_image_layout: ImageLayout,
) -> None:
    layers = layer_paths(small_image_layout, 0)

    status = read_from_layers(layers, "var/lib/dpkg/status", 1 << 20)

    assert b"Package: bash\n" in status


@pytest.mark.parametrize(
    "index", [pytest.param(0, id="amd64"), pytest.param(1, id="arm64")]
)
def test_small_image_is_slim(small_image_layout: ImageLayout, index: int) -> None:
    layers = layer_paths(small_image_layout, index)

    assert find_in_layers(layers, "usr/share/doc/bash/copyright") is not None
    assert find_in_layers(layers, "usr/share/man/man1/bash.1.gz") is None
    assert find_in_layers(layers, "usr/share/doc/bash/README.gz") is None


@pytest.mark.parametrize(
    "index", [pytest.param(0, id="amd64"), pytest.param(1, id="arm64")]
)
def test_small_image_has_merged_usr(
    small_image_layout: ImageLayout, index: int
) -> None:
    layers = layer_paths(small_image_layout, index)

    link = find_in_layers(layers, "bin")

    assert link is not None
    assert link.issym()
    assert link.linkname == "usr/bin"


def test_small_image_config(small_image_layout: ImageLayout) -> None:
    image = small_image_layout.platforms[1]
    path = small_image_layout.blob_path(image.config.digest)

    config = json.loads(path.read_bytes())

    assert config["config"]["Cmd"] == ["bash"]
    assert config["config"]["Env"][0].startswith("PATH=/usr/local/sbin:")
    assert len(config["rootfs"]["diff_ids"]) == len(image.layers)
    assert len(config["history"]) == len(image.layers)
