"""Build the embedded default's images from Debian packages and cache them.

Each image is an OCI image index with two platforms, like Docker Hub's
official images:

- linux/amd64 is a minbase root that mmdebstrap builds with the maintainer
  scripts run, plus the packages the spec adds.
- linux/arm64/v8 unpacks the same package names for arm64 with mmdebstrap's
  extract variant, which runs no arm64 code, so no emulator is needed. Names
  that arm64 lacks (x86-only libraries) are left out, and apt adds the arm64
  counterparts that dependencies call for. Files that the amd64 maintainer
  scripts created (users and groups, alternatives links, byte-compiled
  Python) are copied in unless their path or name is specific to x86.

NOTE: the arm64 root has an empty dpkg database and no ld.so.cache, because
no arm64 maintainer script or ldconfig ever runs. Its files are complete for
pulling and unpacking, but apt inside an arm64 container sees no packages.

Each platform's root is split by path into four gzip layers (see
`LAYER_ROOTS`). The layout of a built image goes to a cache directory under a
name derived from a hash of the spec. It is built in a temporary directory
beside it and renamed into place, so an interrupted build never leaves a
partial image, and a later call with the same spec reuses it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import anyio
import anyio.to_thread

from main.stack.image_cache import (
    build_lock,
    default_cache_dir,
    make_work_dir,
    publish,
    read_cached,
    remove_stale_work_dirs,
    remove_work_dir,
)
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
BUILDER_VERSION = 5
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
# Packages that amd64 needs but arm64 does not, such as the x86-64 binutils
# that build-essential pulls in. arm64 has them as cross tools, so apt would
# install them rather than report them missing.
X86_PACKAGES = ("*x86-64*", "*amd64*", "*i386*")

_AMD64 = LayoutPlatform("amd64")
_ARM64 = LayoutPlatform("arm64", variant="v8")
_TOTAL_STEPS = 6
# How many mmdebstrap time limits a build waits for another build's lock.
_LOCK_WAIT_RUNS = 3


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
            "x86_only": [X86_ONLY, X86_PACKAGES],
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


async def ensure_image(
    spec: ImageSpec,
    cache_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    *,
    sources: tuple[str, ...] | None = None,
    mmdebstrap_timeout: float = DEFAULT_BUILD_TIMEOUT,
) -> ImageLayout:
    """Return the cached layout of `spec`, building it first if needed.

    A call that finds another process or task building the same image waits
    for it and returns its result. `progress` receives one BuildStep per
    step. `sources` are the sources.list lines for mmdebstrap (default:
    deb.debian.org for the spec's suite, its updates and security).
    `mmdebstrap_timeout` bounds each mmdebstrap run, in seconds.
    """
    cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
    sources = sources if sources is not None else debian_sources(spec.suite)
    target = cache_dir / spec.cache_name(sources)
    reporter = _Reporter(spec, progress)

    cached = read_cached(target)
    if cached is not None:
        reporter.finish(f"using the cached image in {target}")
        return cached

    check_mmdebstrap()
    # A second build of the same image waits for the first and reuses it.
    max_wait = _LOCK_WAIT_RUNS * mmdebstrap_timeout
    async with build_lock(cache_dir, target.name, max_wait, reporter.waiting):
        cached = read_cached(target)
        if cached is not None:
            reporter.finish(f"using the image another build stored in {target}")
            return cached
        remove_stale_work_dirs(cache_dir)
        work_dir = make_work_dir(cache_dir, target.name)
        try:
            built = await _build(spec, sources, work_dir, reporter, mmdebstrap_timeout)
            publish(built, target)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(remove_work_dir, work_dir)

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

    def waiting(self) -> None:
        message = "waiting for another process that builds this image"
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
    time_limit: float,
) -> Path:
    """Build both platforms and the index in `work_dir`; return the layout path."""
    layout_dir = work_dir / "layout"
    amd64_tar, arm64_tar = work_dir / "amd64.tar", work_dir / "arm64.tar"
    added = f" + {', '.join(spec.include)}" if spec.include else ""

    reporter.step(f"building the linux/amd64 root with mmdebstrap (minbase{added})")
    amd64 = RootfsRequest(
        spec.suite, "amd64", "minbase", spec.include, sources, spec.epoch
    )
    packages = await build_rootfs(amd64, amd64_tar, work_dir, time_limit=time_limit)
    amd64_tree = await anyio.to_thread.run_sync(_read_tree, spec, amd64_tar)
    arm64 = RootfsRequest(
        spec.suite, "arm64", "extract", arm64_packages(packages), sources, spec.epoch
    )
    manifests: dict[str, Descriptor] = {}

    async def write_amd64() -> None:
        manifests["amd64"] = await _write_platform(
            spec, _AMD64, amd64_tree, layout_dir, _command(spec, amd64, len(packages))
        )

    # The amd64 layers compress while mmdebstrap downloads the arm64 packages.
    async with anyio.create_task_group() as group:
        reporter.step("writing the linux/amd64 layers")
        group.start_soon(write_amd64)
        reporter.step(f"unpacking the {len(packages)} amd64 packages for linux/arm64")
        unpacked = await build_rootfs(arm64, arm64_tar, work_dir, time_limit=time_limit)

    reporter.step("writing the linux/arm64/v8 layers")
    arm64_tree = await anyio.to_thread.run_sync(_read_tree, spec, arm64_tar)
    arm64_tree = add_missing(arm64_tree, amd64_tree, X86_ONLY)
    manifests["arm64"] = await _write_platform(
        spec, _ARM64, arm64_tree, layout_dir, _command(spec, arm64, len(unpacked))
    )

    reporter.step("writing the image index")
    annotations = {"org.opencontainers.image.description": spec.description}
    ordered = [manifests["amd64"], manifests["arm64"]]
    write_index(layout_dir, ordered, spec.tag, annotations)
    return layout_dir


def arm64_packages(amd64_packages: tuple[str, ...]) -> tuple[str, ...]:
    """Return the amd64 package names without those matching X86_PACKAGES."""
    return tuple(
        name
        for name in amd64_packages
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in X86_PACKAGES)
    )


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


def _command(spec: ImageSpec, request: RootfsRequest, package_count: int) -> str:
    """Return the history line of a platform: the mmdebstrap call, shortened."""
    parts = [
        "mmdebstrap",
        f"--variant={request.variant}",
        f"--architectures={request.architecture}",
    ]
    if request.installs and spec.include:
        parts.append(f"--include={','.join(spec.include)}")
    if not request.installs:
        parts.append(f"--include=<{package_count} packages of the amd64 root>")
    parts.append(spec.suite)
    return " ".join(parts)
