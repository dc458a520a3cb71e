"""Run the `docker-registry` binary (CNCF distribution) as a local process.

`run_registry` starts one registry on 127.0.0.1, either as a plain registry or
as a pull-through mirror, with its config produced by the distribution config
renderer. It waits until `GET /v2/` gets a response and stops the process on exit,
also when the caller is cancelled.

Distribution 2.8 panics at start-up when its proxy upstream does not answer
`GET /v2/`, so the upstream of a mirror must be running before the mirror
starts.

A parent killed with SIGKILL cannot stop its children, so on Linux the registry
is started through `setpriv --pdeathsig KILL` (util-linux), which makes the
kernel send it SIGKILL when the thread that started it exits. Its temporary
folder carries an owner marker so that the next stack removes it (see
`main.stack.cleanup`). Before a mirror starts, its storage is repaired from
what an earlier kill can leave there (see `main.stack.storage_repair`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import anyio
import anyio.abc
import anyio.to_thread
import httpx

from main.errors import StackError
from main.render.distribution import (
    HEALTH_PATH,
    ProxyConfig,
    dump_distribution_config,
)
from main.stack.cleanup import make_owned_temp_dir
from main.stack.ports import LOOPBACK, free_port, resolve_port
from main.stack.storage_repair import repair_proxy_storage

__all__ = ["BINARY", "INSTALL_HINT", "RegistryServer", "run_registry"]

logger = logging.getLogger(__name__)

BINARY = "docker-registry"
INSTALL_HINT = "apt-get install -y docker-registry"
PDEATHSIG_LAUNCHER = "setpriv"

_POLL_INTERVAL = 0.05
_MAX_QUOTED_LOG = 300


class RegistryServer:
    """A `docker-registry` process with fixed ports, config and storage.

    The object outlives the process: `stop`, `kill` and `start` may be called
    in any order, so a test can restart a mirror on the same storage or kill it
    with SIGKILL and bring it back. `repair_storage` runs
    `repair_proxy_storage` before each start of a mirror.
    """

    def __init__(
        self,
        config: ProxyConfig,
        *,
        name: str,
        command: list[str],
        work_dir: Path,
        log_path: Path,
        env: Mapping[str, str],
        start_timeout: float,
        stop_timeout: float,
    ) -> None:
        self.config = config
        self.name = name
        self.config_path = work_dir / "config.yml"
        self.log_path = log_path
        self.storage_dir = Path(config.storage_root)
        self._command = command
        self._work_dir = work_dir
        self._env = dict(env)
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._process: anyio.abc.Process | None = None
        self._log_offset = 0
        self.repair_storage = True

    @property
    def base_url(self) -> str:
        """URL of the registry API root, without a trailing slash."""
        return f"http://{self.config.listen_address}"

    @property
    def health_url(self) -> str:
        """URL of the health endpoint on the debug address."""
        return f"http://{self.config.debug_address}{HEALTH_PATH}"

    @property
    def pid(self) -> int | None:
        """Process id while the process runs, else None."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the process was started and has not been stopped or killed."""
        return self._process is not None

    async def start(self) -> None:
        """Start the process and wait until `GET /v2/` gets a response.

        Raises `StackError` quoting the last log line when the process exits
        during start-up, or when it does not respond within the start timeout.
        """
        if self._process is not None:
            return
        if self.repair_storage and self.config.remote_url is not None:
            await anyio.to_thread.run_sync(repair_proxy_storage, self.storage_dir)
        self.config_path.write_text(dump_distribution_config(self.config))
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [*self._command, "serve", str(self.config_path)]
        with self.log_path.open("ab") as log_file:
            # The child keeps its own copy of the descriptor after this block.
            process = await anyio.open_process(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self._work_dir,
                env=self._env,
            )
        self._process = process
        logger.info("started %s (pid %s) on %s", self.name, process.pid, self.base_url)
        try:
            await self._wait_ready(process)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.stop()
            raise

    async def stop(self) -> None:
        """Send SIGTERM and wait, then send SIGKILL if the stop timeout passes."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            with anyio.move_on_after(self._stop_timeout):
                await process.wait()
        if process.returncode is None:
            logger.warning(
                "%s (pid %s) ignored SIGTERM for %g s; sending SIGKILL",
                self.name,
                process.pid,
                self._stop_timeout,
            )
            await self.kill()
            return
        await self._release(process)
        logger.info("stopped %s (pid %s)", self.name, process.pid)

    async def kill(self) -> None:
        """Send SIGKILL and wait for the process to exit, as a crash would."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
        await self._release(process)
        logger.info("killed %s (pid %s)", self.name, process.pid)

    async def restart(self) -> None:
        """Stop the process and start it again on the same ports and storage."""
        await self.stop()
        await self.start()

    def has_blob(self, repository: str, digest: str) -> bool:
        """Return whether `digest` is committed to local storage for `repository`.

        Distribution writes a repository's layer link only after the blob data
        is in place, so the link marks a finished store. The path layout is
        that of the filesystem driver in distribution 2.x and 3.
        """
        algorithm, _, encoded = digest.partition(":")
        link = (
            self.storage_dir
            / "docker/registry/v2/repositories"
            / repository
            / "_layers"
            / algorithm
            / encoded
            / "link"
        )
        return link.is_file()

    async def wait_for_blobs(
        self, repository: str, digests: Iterable[str], wait_seconds: float = 30.0
    ) -> None:
        """Wait until all `digests` are committed to local storage.

        A mirror serves a cold blob while a background task copies it to
        storage, so a warm pull right after a cold one can still go upstream.
        Raises `StackError` naming the missing digests after `wait_seconds`.
        """
        missing = list(digests)
        with anyio.move_on_after(wait_seconds):
            while True:
                missing = [d for d in missing if not self.has_blob(repository, d)]
                if not missing:
                    return
                await anyio.sleep(_POLL_INTERVAL)
        msg = (
            f"{self.name} did not store {len(missing)} blob(s) of {repository} "
            f"within {wait_seconds:g} s: {', '.join(missing)}"
        )
        raise StackError(msg)

    def last_log_line(self) -> str:
        """Return the most telling log line written since the last start.

        A Go panic prints its message first and a goroutine trace after it, so
        the `panic:` line wins over the last line.
        """
        if not self.log_path.exists():
            return "(no log output)"
        with self.log_path.open("rb") as log_file:
            log_file.seek(self._log_offset)
            text = log_file.read().decode("utf-8", errors="replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            return "(no log output)"
        panics = [line for line in lines if line.startswith("panic:")]
        line = panics[0] if panics else lines[-1]
        return line[:_MAX_QUOTED_LOG]

    async def _release(self, process: anyio.abc.Process) -> None:
        # aclose() waits for the exit and frees the event loop's child watcher.
        await process.aclose()
        self._process = None

    async def _wait_ready(self, process: anyio.abc.Process) -> None:
        url = f"{self.base_url}/v2/"
        async with httpx.AsyncClient(trust_env=False, timeout=1.0) as client:
            with anyio.move_on_after(self._start_timeout):
                while True:
                    self._raise_if_exited(process)
                    try:
                        await client.get(url)
                    except httpx.TransportError:
                        await anyio.sleep(_POLL_INTERVAL)
                        continue
                    return
        msg = (
            f"{self.name} did not respond to GET {url} within "
            f"{self._start_timeout:g} s; last log line: {self.last_log_line()}"
        )
        raise StackError(msg)

    def _raise_if_exited(self, process: anyio.abc.Process) -> None:
        code = process.returncode
        if code is None:
            return
        msg = (
            f"{self.name} exited during start-up with code {code}: "
            f"{self.last_log_line()}"
        )
        raise StackError(msg)


@asynccontextmanager
async def run_registry(
    remote_url: str | None = None,
    *,
    name: str = "registry",
    port: int | None = None,
    port_option: str = "--mirror-port",
    storage_dir: Path | None = None,
    log_path: Path | None = None,
    target_version: Literal["2.8", "3"] = "2.8",
    env: Mapping[str, str] | None = None,
    executable: str = BINARY,
    start_timeout: float = 30.0,
    stop_timeout: float = 10.0,
) -> AsyncIterator[RegistryServer]:
    """Run a registry on 127.0.0.1 until the block exits, then stop it.

    `remote_url` makes it a pull-through mirror of that upstream; None runs a
    plain registry. `port` None picks a free port, and a taken port raises
    `StackError` naming `port_option`. Storage, config and log go to a
    temporary directory that is removed on exit, except `storage_dir` and
    `log_path` when the caller passes them. `env` is added to the process
    environment, which is the place for `REGISTRY_PROXY_USERNAME` and
    `REGISTRY_PROXY_PASSWORD`. Other inherited `REGISTRY_*` variables are
    dropped because distribution would read them as config overrides.
    """
    resolved_env = _process_env(env)
    found = shutil.which(executable, path=resolved_env.get("PATH"))
    if found is None:
        msg = f"{executable} not found; install it with: {INSTALL_HINT}"
        raise StackError(msg)
    listen_port = resolve_port(port, port_option)

    work_dir = make_owned_temp_dir(name)
    try:
        storage = storage_dir if storage_dir is not None else work_dir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = ProxyConfig(
            remote_url=remote_url,
            listen_address=f"{LOOPBACK}:{listen_port}",
            storage_root=str(storage.resolve()),
            target_version=target_version,
            debug_address=f"{LOOPBACK}:{free_port()}",
        )
        server = RegistryServer(
            config,
            name=name,
            command=_launch_command(found, resolved_env),
            work_dir=work_dir,
            log_path=log_path if log_path is not None else work_dir / "registry.log",
            env=resolved_env,
            start_timeout=start_timeout,
            stop_timeout=stop_timeout,
        )
        try:
            await server.start()
            yield server
        finally:
            with anyio.CancelScope(shield=True):
                await server.stop()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _launch_command(executable: str, env: Mapping[str, str]) -> list[str]:
    """Return the command prefix that starts `executable` tied to this process.

    PR_SET_PDEATHSIG fires when the thread that forked the child exits. The
    registry is forked from the event loop's thread, which lives as long as
    the stack does.
    """
    launcher = shutil.which(PDEATHSIG_LAUNCHER, path=env.get("PATH"))
    if launcher is None:
        # NOTE: without setpriv (outside Linux) a registry outlives a parent
        # killed with SIGKILL; the next stack still removes its folder.
        logger.warning(
            "%s not found; %s will outlive this process if it is killed",
            PDEATHSIG_LAUNCHER,
            executable,
        )
        return [executable]
    return [launcher, "--pdeathsig", "KILL", "--", executable]


def _process_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("REGISTRY_")
    }
    env.update(extra or {})
    return env
