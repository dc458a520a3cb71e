"""Build Debian root filesystem tarballs with mmdebstrap.

mmdebstrap runs in unshare mode. As root that mode needs no /etc/subuid entry,
and as another user it is the only mode that works without sudo. Its mounts
(/proc, /dev, /sys for the maintainer scripts) live in a private mount
namespace, so a build that is killed leaves no mount behind. Root mode would
mount them under the temporary directory instead, where a later recursive
delete could reach the host's /dev.

Both variants get merged /usr from mmdebstrap's `merged-usr` hook, the way
debootstrap and Docker Hub's Debian images set it up, so minbase does not pull
in the `usrmerge` package and Perl.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc
import anyio.to_thread

from main.errors import StackError

__all__ = [
    "INSTALL_HINT",
    "MERGED_USR_HOOKS",
    "RootfsRequest",
    "build_rootfs",
    "check_mmdebstrap",
    "debian_sources",
    "mmdebstrap_command",
]

logger = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install -y mmdebstrap"
MERGED_USR_HOOKS = Path("/usr/share/mmdebstrap/hooks/merged-usr")
DEFAULT_MIRROR = "http://deb.debian.org"

# A stalled mirror connection fails after 60 s, and apt retries a failed
# download up to three times.
_APT_OPTIONS = ('Acquire::http::Timeout "60"', 'Acquire::Retries "3"')
_STOP_GRACE_SECONDS = 20.0
# Wait up to 10 s for the processes of a killed group to exit.
_GROUP_EXIT_POLLS = 100
_GROUP_EXIT_POLL_SECONDS = 0.1
_ERROR_TAIL_LINES = 5
_ERROR_LINE_MAX_CHARS = 200
# One run that finds the unknown packages, one without them, one spare.
_MAX_ATTEMPTS = 3
_UNKNOWN_PACKAGE = re.compile(r"E: Unable to locate package (\S+)")


@dataclass(frozen=True)
class RootfsRequest:
    """A root filesystem to build: suite, Debian architecture, variant, packages."""

    suite: str
    architecture: str
    variant: str
    packages: tuple[str, ...]
    sources: tuple[str, ...]
    epoch: int

    @property
    def installs(self) -> bool:
        """Whether the variant runs maintainer scripts (every variant but extract)."""
        return self.variant != "extract"


def debian_sources(suite: str, mirror: str = DEFAULT_MIRROR) -> tuple[str, ...]:
    """Return sources.list lines for a suite, its updates and its security fixes."""
    return (
        f"deb {mirror}/debian {suite} main",
        f"deb {mirror}/debian {suite}-updates main",
        f"deb {mirror}/debian-security {suite}-security main",
    )


def mmdebstrap_command(
    request: RootfsRequest, output: Path, package_list: Path | None
) -> list[str]:
    """Return the mmdebstrap command line that writes `request` to `output`.

    With `package_list`, a hook writes the installed package names there, one
    per line, read from the new root's dpkg database.
    """
    # mmdebstrap runs only extract hooks for the extract variant, and
    # customize hooks (after all installs) for the others.
    hook = "--customize-hook" if request.installs else "--extract-hook"
    command = [
        "mmdebstrap",
        "--mode=unshare",
        "--format=tar",
        f"--variant={request.variant}",
        f"--architectures={request.architecture}",
        f"--hook-dir={MERGED_USR_HOOKS}",
        # The host's copies would make the tarball differ from host to host.
        f'{hook}=rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
    ]
    command += [f"--aptopt={option}" for option in _APT_OPTIONS]
    if request.packages:
        command.append(f"--include={','.join(request.packages)}")
    if not request.installs:
        # The merged-usr hook registers a placeholder usr-is-merged package
        # that a later install step would replace; extract has no such step.
        command.append(
            f'{hook}=rm -f "$1"/var/lib/dpkg/info/usr-is-merged.* '
            '&& : > "$1/var/lib/dpkg/status"'
        )
    if package_list is not None:
        query = (
            'dpkg-query --admindir="$1/var/lib/dpkg" --show '
            "--showformat='${Package}\\n'"
        )
        command.append(f"--customize-hook={query} > {shlex.quote(str(package_list))}")
    command += [request.suite, str(output), *request.sources]
    return command


async def build_rootfs(
    request: RootfsRequest,
    output: Path,
    work_dir: Path,
    *,
    time_limit: float,
    on_line: Callable[[str], None] | None = None,
) -> tuple[str, ...]:
    """Write the root filesystem of `request` as a tarball to `output`.

    Returns the names of the installed packages, sorted. The extract variant
    registers nothing with dpkg, so for it the names are the requested ones
    that the architecture has: names that apt cannot find there (such as
    amd64's `libquadmath0` on arm64) are left out and the run is repeated.
    mmdebstrap keeps its temporary root under `work_dir`; `time_limit` bounds
    each run, in seconds. On any failure, cancellation included, `output` and
    the package list are removed, because mmdebstrap creates the output file
    when it starts and a stopped run leaves it partial.
    """
    check_mmdebstrap()
    package_list = work_dir / f"packages-{request.architecture}.txt"
    try:
        built = await _run_attempts(
            request, output, work_dir, package_list, time_limit, on_line
        )
        if not built.installs:
            return tuple(sorted(built.packages))
        names = package_list.read_text(encoding="utf-8").split()
    except BaseException:
        # _run has stopped mmdebstrap by now, so nothing writes these any more.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_remove_files, output, package_list)
        raise
    return tuple(sorted(set(names)))


async def _run_attempts(
    request: RootfsRequest,
    output: Path,
    work_dir: Path,
    package_list: Path,
    time_limit: float,
    on_line: Callable[[str], None] | None,
) -> RootfsRequest:
    """Run mmdebstrap until it succeeds; return the request that succeeded.

    An extract run that apt fails on unknown package names is repeated
    without them.
    """
    env = {
        **os.environ,
        "SOURCE_DATE_EPOCH": str(request.epoch),
        "TMPDIR": str(work_dir),
    }
    what = f"{request.variant} {request.suite} for {request.architecture}"

    for _attempt in range(_MAX_ATTEMPTS):
        command = mmdebstrap_command(
            request, output, package_list if request.installs else None
        )
        logger.info("running mmdebstrap: %s", what)
        returncode, lines = await _run(command, env, what, time_limit, on_line)
        if returncode == 0:
            break
        missing = set() if request.installs else _unknown_packages(lines)
        if not missing:
            raise _failure(what, returncode, lines)
        logger.warning(
            "packages not available for %s, leaving them out: %s",
            request.architecture,
            ", ".join(sorted(missing)),
        )
        kept = tuple(name for name in request.packages if name not in missing)
        request = dataclasses.replace(request, packages=kept)
    else:
        raise _failure(what, returncode, lines)
    return request


def check_mmdebstrap() -> None:
    """Raise StackError with the install command unless mmdebstrap is usable."""
    if shutil.which("mmdebstrap") is None:
        msg = f"mmdebstrap not found; install it with: {INSTALL_HINT}"
        raise StackError(msg)
    if not MERGED_USR_HOOKS.is_dir():
        msg = (
            f"mmdebstrap hook directory {MERGED_USR_HOOKS} not found; "
            f"reinstall mmdebstrap with: {INSTALL_HINT}"
        )
        raise StackError(msg)


async def _run(
    command: Sequence[str],
    env: dict[str, str],
    what: str,
    time_limit: float,
    on_line: Callable[[str], None] | None,
) -> tuple[int, list[str]]:
    """Run `command`, passing each output line on; return status and lines."""
    lines: list[str] = []

    def keep(line: str) -> None:
        lines.append(line)
        logger.debug("mmdebstrap: %s", line)
        if on_line is not None:
            on_line(line)

    process = await anyio.open_process(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        # A session of its own lets a cancelled build stop the whole tree.
        start_new_session=True,
    )
    try:
        with anyio.fail_after(time_limit):
            await _read_lines(process, keep)
            returncode = await process.wait()
    except TimeoutError as exc:
        msg = (
            f"mmdebstrap ({what}) timed out after {time_limit:g} s; check the "
            "connection to the Debian mirror"
        )
        raise StackError(msg) from exc
    finally:
        with anyio.CancelScope(shield=True):
            await _stop(process)
            # Closes the output pipe, which would otherwise leak until the
            # garbage collector finds it and warns.
            await process.aclose()
    return returncode, lines


def _remove_files(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _unknown_packages(lines: Sequence[str]) -> set[str]:
    """Return the names in apt's "Unable to locate package NAME" errors."""
    found = (_UNKNOWN_PACKAGE.match(line) for line in lines)
    return {match.group(1) for match in found if match}


def _failure(what: str, returncode: int, lines: Sequence[str]) -> StackError:
    errors = [line for line in lines if line.startswith("E:")]
    # apt repeats its whole command line in some errors; keep the start.
    shown = [line[:_ERROR_LINE_MAX_CHARS] for line in (errors or lines)]
    detail = " | ".join(shown[-_ERROR_TAIL_LINES:])
    msg = f"mmdebstrap ({what}) failed with exit status {returncode}: {detail}"
    return StackError(msg)


async def _read_lines(
    process: anyio.abc.Process, on_line: Callable[[str], None]
) -> None:
    # Opened with stdout=PIPE, so the stream exists.
    assert process.stdout is not None
    pending = b""
    async for chunk in process.stdout:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            on_line(raw.decode("utf-8", "replace").rstrip())
    if pending:
        on_line(pending.decode("utf-8", "replace").rstrip())


async def _stop(process: anyio.abc.Process) -> None:
    """Stop the process group: SIGTERM lets mmdebstrap clean up, then SIGKILL.

    NOTE: mmdebstrap 1.3.5 blocks signals around each of its forks, and a
    SIGTERM that arrives then never reaches the new child, while the parent
    only logs it and waits. Such a stop takes the whole grace period and
    ends with SIGKILL.
    """
    if process.returncode is not None:
        return
    _signal_group(process.pid, signal.SIGTERM)
    with anyio.move_on_after(_STOP_GRACE_SECONDS):
        await process.wait()
        return
    logger.warning("mmdebstrap did not stop on SIGTERM; sending SIGKILL")
    _signal_group(process.pid, signal.SIGKILL)
    await process.wait()
    # The leader's exit is reported first, while the rest of the group may
    # still be exiting; the caller's delete of the work folder must not race them.
    for _ in range(_GROUP_EXIT_POLLS):
        if not await anyio.to_thread.run_sync(_live_group_members, process.pid):
            return
        await anyio.sleep(_GROUP_EXIT_POLL_SECONDS)
    logger.warning(
        "processes of mmdebstrap were still running %g s after SIGKILL",
        _GROUP_EXIT_POLLS * _GROUP_EXIT_POLL_SECONDS,
    )


def _live_group_members(group: int) -> list[int]:
    """Return the ids of processes in process group `group` that are not zombies."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the command name: state, parent id, group id.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            members.append(int(stat.parent.name))
    return members


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)
