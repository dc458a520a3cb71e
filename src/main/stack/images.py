"""Build the embedded default's images from Debian packages and cache them.

Each image is an OCI image index with two platforms, like Docker Hub's
official images:

- linux/amd64 is a minbase root that mmdebstrap builds with the maintainer
  scripts run, plus the packages the spec adds.
- linux/arm64/v8 unpacks the same package names for arm64 with mmdebstrap's
  extract variant, which runs no arm64 code, so no emulator is needed. Names
  that arm64 lacks (x86-only libraries) are left out, and apt adds the arm64
  counterparts that dependencies call for. Files
  that the amd64 maintainer scripts created (users and groups, alternatives
  links, byte-compiled Python) are copied in unless their path or name is
  specific to x86.

Each platform's root is split by path into four gzip layers (see
`LAYER_ROOTS`). The layout of a built image goes to a cache directory under a
name derived from a hash of the spec. It is built in a temporary directory
beside it and renamed into place, so an interrupted build never leaves a
partial image, and a later call with the same spec reuses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import anyio
import anyio.to_thread

from main.errors import StackError
from main.stack.layers import (
    Entry,
    LayerBlob,
    add_missing,
    drop_paths,
    read_tree,
    split_tree,
    write_layer,
)
from main.stack.layout import (
    Descriptor,
    ImageLayout,
    LayoutPlatform,
    RuntimeConfig,
    read_layout,
    write_image,
    write_index,
)
from main.stack.rootfs import (
    RootfsRequest,
    build_rootfs,
    check_mmdebstrap,
    debian_sources,
)

__all__ = [
    "DEFAULT_IMAGES",
    "LAYER_ROOTS",
    "SMALL_IMAGE",
    "BuildStep",
    "ImageSpec",
    "ProgressCallback",
    "default_cache_dir",
    "ensure_image",
]

logger = logging.getLogger(__name__)

# Raise when the same spec starts to produce different layouts, so that the
# cache keys change and old layouts are not reused.
BUILDER_VERSION = 3
# 2025-05-20T00:00:00Z: the creation time in every config and the latest
# file modification time, so rebuilds of the same packages give equal digests.
DEFAULT_EPOCH = 1747699200
DEFAULT_BUILD_TIMEOUT = 1800.0
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# One layer per root path, in this order. A path goes to the longest root that
# contains it, and "" takes the rest: /etc, /var, the merged-/usr links.
LAYER_ROOTS = ("", "usr/share", "usr", "usr/lib")

# Paths left out of slim images, as debuerreotype (the builder of Docker Hub's
# Debian images) lists them in its .slimify-excludes and .slimify-includes:
# documentation, manual pages and translations, but not the copyright files.
SLIM_EXCLUDE = (
    "usr/share/doc/*",
    "usr/share/groff/*",
    "usr/share/info/*",
    "usr/share/linda/*",
    "usr/share/lintian/overrides/*",
    "usr/share/locale/*",
    "usr/share/man/*",
)
SLIM_KEEP = (
    "usr/share/doc/*/copyright",
    "usr/share/locale/all_languages",
    "usr/share/locale/currency/*",
    "usr/share/locale/l10n/*",
    "usr/share/locale/languages",
    "usr/share/locale/locale.alias",
)

# Files from the amd64 root that must not reach the arm64 root. The dpkg
# database lists amd64 packages and paths, so the arm64 root has none.
X86_ONLY = (
    "*x86_64*",
    "*x86-64*",
    "*amd64*",
    "*i386*",
    "*i686*",
    "lib64",
    "lib64/*",
    "usr/lib64",
    "usr/lib64/*",
    "etc/ld.so.cache",
    "var/lib/dpkg/*",
)

_AMD64 = LayoutPlatform("amd64")
_ARM64 = LayoutPlatform("arm64", variant="v8")
_TOTAL_STEPS = 6


@dataclass(frozen=True)
class ImageSpec:
    """An image to build: its name, the packages added to minbase, run defaults."""

    repository: str
    tag: str
    description: str
    include: tuple[str, ...] = ()
    slim: bool = True
    cmd: tuple[str, ...] = ("bash",)
    env: tuple[str, ...] = ()
    suite: str = "bookworm"
    epoch: int = DEFAULT_EPOCH

    @property
    def reference(self) -> str:
        """The image name as `repository:tag`."""
        return f"{self.repository}:{self.tag}"

    def cache_name(self, sources: tuple[str, ...]) -> str:
        """Return the cache directory name: the reference and a hash of the spec."""
        inputs = {
            "builder": BUILDER_VERSION,
            "spec": asdict(self),
            "sources": sources,
            "layer_roots": LAYER_ROOTS,
            "slim": [SLIM_EXCLUDE, SLIM_KEEP],
            "x86_only": X86_ONLY,
        }
        key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
        readable = self.reference.replace("/", "_").replace(":", "_")
        return f"{readable}-{key[:16]}"


SMALL_IMAGE = ImageSpec(
    repository="library/debian",
    tag="bookworm-slim",
    description="Debian bookworm minbase without documentation",
)
DEFAULT_IMAGES = (
    SMALL_IMAGE,
    ImageSpec(
        repository="library/python",
        tag="3.11-slim-bookworm",
        description="Debian bookworm minbase with Python 3.11",
        include=("python3",),
        cmd=("python3",),
        env=("LANG=C.UTF-8",),
    ),
    ImageSpec(
        repository="library/gcc",
        tag="12-bookworm",
        description="Debian bookworm with GCC 12, make and the C library headers",
        include=("build-essential",),
        slim=False,
    ),
)


@dataclass(frozen=True)
class BuildStep:
    """A progress report: image, step number out of total, what happens now."""

    reference: str
    step: int
    total: int
    message: str

    def __str__(self) -> str:
        return f"{self.reference} [{self.step}/{self.total}] {self.message}"


ProgressCallback = Callable[[BuildStep], None]


def default_cache_dir() -> Path:
    """Return $XDG_CACHE_HOME/registry-mirror/images, or ~/.cache/... without it."""
    configured = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative path.
    base = Path(configured)
    if not base.is_absolute():
        base = Path.home() / ".cache"
    return base / "registry-mirror" / "images"


async def ensure_image(
    spec: ImageSpec,
    cache_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    *,
    sources: tuple[str, ...] | None = None,
    mmdebstrap_timeout: float = DEFAULT_BUILD_TIMEOUT,
) -> ImageLayout:
    """Return the cached layout of `spec`, building it first if needed.

    `sources` are the sources.list lines for mmdebstrap (default:
    deb.debian.org for the spec's suite, its updates and security).
    `mmdebstrap_timeout` bounds each mmdebstrap run, in seconds.
    """
    cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
    sources = sources if sources is not None else debian_sources(spec.suite)
    target = cache_dir / spec.cache_name(sources)
    reporter = _Reporter(spec, progress)

    cached = _read_cached(target)
    if cached is not None:
        reporter.finish(f"using the cached image in {target}")
        return cached

    check_mmdebstrap()
    work_dir = _make_work_dir(cache_dir, target.name)
    try:
        built = await _build(spec, sources, work_dir, reporter, mmdebstrap_timeout)
        _publish(built, target)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_remove_work_dir, work_dir)

    layout = read_layout(target)
    sizes = ", ".join(
        f"{image.platform} {image.compressed_size / 1e6:.1f} MB"
        for image in layout.platforms
    )
    reporter.finish(f"stored in {target} ({sizes} compressed)")
    return layout


class _Reporter:
    """Number the steps of one build, log them and pass them to the callback."""

    def __init__(self, spec: ImageSpec, callback: ProgressCallback | None) -> None:
        self._reference = spec.reference
        self._callback = callback
        self._step = 0

    def step(self, message: str) -> None:
        self._step += 1
        self._emit(BuildStep(self._reference, self._step, _TOTAL_STEPS, message))

    def finish(self, message: str) -> None:
        self._emit(BuildStep(self._reference, _TOTAL_STEPS, _TOTAL_STEPS, message))

    def _emit(self, step: BuildStep) -> None:
        logger.info("%s", step)
        if self._callback is not None:
            self._callback(step)


async def _build(
    spec: ImageSpec,
    sources: tuple[str, ...],
    work_dir: Path,
    reporter: _Reporter,
    mmdebstrap_timeout: float,
) -> Path:
    """Build both platforms and the index in `work_dir`; return the layout path."""
    layout_dir = work_dir / "layout"
    amd64_tar, arm64_tar = work_dir / "amd64.tar", work_dir / "arm64.tar"
    added = f" + {', '.join(spec.include)}" if spec.include else ""

    reporter.step(f"building the linux/amd64 root with mmdebstrap (minbase{added})")
    request = RootfsRequest(
        spec.suite, "amd64", "minbase", spec.include, sources, spec.epoch
    )
    packages = await build_rootfs(
        request, amd64_tar, work_dir, time_limit=mmdebstrap_timeout
    )
    amd64_tree = await anyio.to_thread.run_sync(_read_tree, spec, amd64_tar)

    manifests: dict[str, Descriptor] = {}
    amd64_command = _command(spec, request)

    async def write_amd64() -> None:
        manifests["amd64"] = await _write_platform(
            spec, _AMD64, amd64_tree, layout_dir, amd64_command
        )

    # The amd64 layers compress while mmdebstrap downloads the arm64 packages.
    async with anyio.create_task_group() as group:
        reporter.step("writing the linux/amd64 layers")
        group.start_soon(write_amd64)
        reporter.step(f"unpacking the {len(packages)} amd64 packages for linux/arm64")
        request = RootfsRequest(
            spec.suite, "arm64", "extract", packages, sources, spec.epoch
        )
        await build_rootfs(request, arm64_tar, work_dir, time_limit=mmdebstrap_timeout)

    reporter.step("writing the linux/arm64/v8 layers")
    arm64_tree = await anyio.to_thread.run_sync(_read_tree, spec, arm64_tar)
    arm64_tree = add_missing(arm64_tree, amd64_tree, X86_ONLY)
    manifests["arm64"] = await _write_platform(
        spec, _ARM64, arm64_tree, layout_dir, _command(spec, request)
    )

    reporter.step("writing the image index")
    annotations = {"org.opencontainers.image.description": spec.description}
    ordered = [manifests["amd64"], manifests["arm64"]]
    write_index(layout_dir, ordered, spec.tag, annotations)
    return layout_dir


def _read_tree(spec: ImageSpec, tar_path: Path) -> dict[str, Entry]:
    tree = read_tree(tar_path, spec.epoch)
    return drop_paths(tree, SLIM_EXCLUDE, SLIM_KEEP) if spec.slim else tree


async def _write_platform(
    spec: ImageSpec,
    platform: LayoutPlatform,
    tree: Mapping[str, Entry],
    layout_dir: Path,
    command: str,
) -> Descriptor:
    """Write the layers, config and manifest of one platform."""
    plans = split_tree(tree, LAYER_ROOTS, spec.epoch)
    blob_dir = layout_dir / "blobs" / "sha256"
    layers: list[LayerBlob | None] = [None] * len(plans)

    async def write(index: int) -> None:
        layers[index] = await anyio.to_thread.run_sync(
            write_layer, plans[index], blob_dir
        )

    # zlib and hashlib release the GIL, so layers compress in parallel.
    async with anyio.create_task_group() as group:
        for index in range(len(plans)):
            group.start_soon(write, index)

    written = [layer for layer in layers if layer is not None]
    runtime = RuntimeConfig(env=(DEFAULT_PATH, *spec.env), cmd=spec.cmd)
    created_by = [f"{command} # /{layer.root}" for layer in written]
    return write_image(
        layout_dir, platform, written, runtime, epoch=spec.epoch, created_by=created_by
    )


def _command(spec: ImageSpec, request: RootfsRequest) -> str:
    """Return the history line of a platform: the mmdebstrap call, shortened."""
    parts = [
        "mmdebstrap",
        f"--variant={request.variant}",
        f"--architectures={request.architecture}",
    ]
    if request.variant != "extract" and spec.include:
        parts.append(f"--include={','.join(spec.include)}")
    if request.variant == "extract":
        parts.append(f"--include=<{len(request.packages)} packages of amd64>")
    parts.append(spec.suite)
    return " ".join(parts)


def _read_cached(target: Path) -> ImageLayout | None:
    if not (target / "index.json").is_file():
        return None
    try:
        return read_layout(target)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        logger.warning("cached image %s is unreadable (%s); rebuilding it", target, exc)
        shutil.rmtree(target)
        return None


def _make_work_dir(cache_dir: Path, name: str) -> Path:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=cache_dir))
    except OSError as exc:
        msg = (
            f"cannot write to the image cache directory {cache_dir}: "
            f"{exc.strerror}; choose a writable directory or set XDG_CACHE_HOME"
        )
        raise StackError(msg) from exc


def _publish(built: Path, target: Path) -> None:
    """Rename the finished layout into place, unless another build won the race."""
    try:
        built.rename(target)
    except OSError:
        if not (target / "index.json").is_file():
            raise
        logger.info("image %s was stored by another build; keeping it", target)


def _remove_work_dir(work_dir: Path) -> None:
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
