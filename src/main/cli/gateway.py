"""`registry-mirror gateway`: run the upstream gateway in the foreground.

In the cluster this runs as a sidecar next to distribution in each mirror
pod, with distribution's `proxy.remoteurl` set to the gateway's address.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import typer

from main.cli.app import app
from main.cli.signals import run_until_signal
from main.errors import UsageError
from main.gateway import (
    GatewayConfig,
    load_credentials,
    prepare_folder,
    run_gateway,
)
from main.render.distribution import normalize_remote_url


@app.command()
def gateway(
    upstream: str = typer.Option(
        ...,
        "--upstream",
        help="Root URL of the upstream registry, such as https://registry-1.docker.io.",
    ),
    listen: str = typer.Option(
        "127.0.0.1:5002",
        "--listen",
        help="HOST:PORT to listen on; 0.0.0.0 listens on every interface.",
    ),
    state_dir: Path | None = typer.Option(
        None,
        "--state-dir",
        help="Folder for the known-tags file that survives restarts, created "
        "if missing; without it known tags are kept in memory only.",
    ),
    spool_dir: Path | None = typer.Option(
        None,
        "--spool-dir",
        help="Folder for spool files of responses in flight, created if "
        "missing; defaults to the system temporary folder.",
    ),
    credentials_file: Path | None = typer.Option(
        None,
        "--credentials-file",
        help="File whose first line is USERNAME:PASSWORD for the upstream; "
        "without it REGISTRY_MIRROR_UPSTREAM_USERNAME and "
        "REGISTRY_MIRROR_UPSTREAM_PASSWORD are read, else access is anonymous.",
    ),
    connect_timeout: float = typer.Option(
        5.0, "--connect-timeout", help="Seconds to wait for an upstream connection."
    ),
    read_timeout: float = typer.Option(
        30.0,
        "--read-timeout",
        help="Seconds to wait for each chunk of an upstream response.",
    ),
    tag_deadline: float = typer.Option(
        2.0,
        "--tag-deadline",
        help="Seconds a tag lookup waits for the upstream before the gateway "
        "responds from the known tags.",
    ),
) -> None:
    """Run the upstream gateway in front of one registry until Ctrl-C."""
    host, port = parse_listen(listen)
    for folder, option in ((state_dir, "--state-dir"), (spool_dir, "--spool-dir")):
        if folder is not None:
            prepare_folder(folder, option)
    config = GatewayConfig(
        normalize_remote_url(upstream),
        credentials=load_credentials(file=credentials_file),
        state_dir=state_dir,
        spool_dir=spool_dir,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        tag_deadline=tag_deadline,
    )
    run_until_signal(lambda: _serve(config, host, port))


async def _serve(config: GatewayConfig, host: str, port: int) -> None:
    async with run_gateway(
        config, host=host, port=port, port_option="--listen"
    ) as server:
        print(
            f"gateway for {config.upstream_url} listening on {host}:{server.port} "
            f"(metrics at {server.metrics_url.removeprefix(server.url)})",
            flush=True,
        )
        await anyio.sleep_forever()


def parse_listen(value: str) -> tuple[str, int]:
    """Split `HOST:PORT` into host and port, or raise `UsageError`."""
    host, colon, port_text = value.rpartition(":")
    if (
        not colon
        or not host
        or not port_text.isdigit()
        or not 0 < int(port_text) < 65536
    ):
        msg = f"invalid --listen value {value!r}; use HOST:PORT such as 127.0.0.1:5002"
        raise UsageError(msg)
    return host, int(port_text)
