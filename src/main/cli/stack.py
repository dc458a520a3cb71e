"""`registry-mirror up`: run the embedded stack in the foreground."""

from __future__ import annotations

from pathlib import Path

import anyio
from rich.console import Console

from main.bench.runner import seed_upstream, select_images
from main.cli.app import app
from main.cli.options import (
    BANDWIDTH_OPTION,
    HUB_PORT_OPTION,
    IMAGE_CACHE_OPTION,
    IMAGE_OPTION,
    MIRROR_PORT_OPTION,
    RATE_LIMIT_OPTION,
    RTT_OPTION,
    UPSTREAM_PORT_OPTION,
    build_stack_options,
    existing_folder,
    progress_printer,
)
from main.cli.signals import run_until_signal
from main.oci.client import new_http_client
from main.stack.embedded import EmbeddedStack, StackOptions, run_embedded_stack
from main.stack.images import ImageSpec


def describe_stack(stack: EmbeddedStack, images: tuple[ImageSpec, ...]) -> str:
    """Describe the running servers and how to point a client at them."""
    mirror_host = stack.mirror_url.removeprefix("http://")
    first = images[0].reference.removeprefix("library/")
    chain = next(iter(stack.mirrors.values()))
    gateway = (
        [
            f"gateway    {chain.gateway.url}  (upstream gateway; metrics at "
            f"{chain.gateway.metrics_url})"
        ]
        if chain.gateway is not None
        else []
    )
    lines = [
        f"mirror     {stack.mirror_url}  (pull-through cache, anonymous, plain HTTP)",
        *gateway,
        f"hub        {stack.hub_url}  (Docker Hub stand-in: token auth, rate limit)",
        f"upstream   {stack.local_url}  (plain registry holding the images)",
        "images     " + ", ".join(spec.reference for spec in images),
        "",
        "Try it:",
        f"  skopeo inspect --tls-verify=false docker://{mirror_host}/library/{first}",
        "  Dagger engine.json: "
        f'{{"registries": {{"docker.io": {{"mirrors": ["{mirror_host}"]}}, '
        f'"{mirror_host}": {{"http": true}}}}}}',
        "Stop with Ctrl-C.",
    ]
    return "\n".join(lines)


async def _serve(
    options: StackOptions,
    images: tuple[ImageSpec, ...],
    image_cache: Path | None,
    console: Console,
) -> None:
    async with run_embedded_stack(options) as stack, new_http_client() as http:
        await seed_upstream(http, stack, images, image_cache, progress_printer(console))
        console.print(describe_stack(stack, images), highlight=False, soft_wrap=True)
        await anyio.sleep_forever()


@app.command()
def up(
    image: list[str] = IMAGE_OPTION,
    rtt_ms: float = RTT_OPTION,
    bandwidth_mbit: float = BANDWIDTH_OPTION,
    rate_limit: int = RATE_LIMIT_OPTION,
    upstream_port: int | None = UPSTREAM_PORT_OPTION,
    hub_port: int | None = HUB_PORT_OPTION,
    mirror_port: int | None = MIRROR_PORT_OPTION,
    image_cache: Path | None = IMAGE_CACHE_OPTION,
) -> None:
    """Start upstream, Hub stand-in and mirror on 127.0.0.1 until Ctrl-C."""
    images = select_images(image)
    options = build_stack_options(
        rtt_ms=rtt_ms,
        bandwidth_mbit=bandwidth_mbit,
        rate_limit=rate_limit,
        upstream_port=upstream_port,
        hub_port=hub_port,
        mirror_port=mirror_port,
    )
    cache = existing_folder(image_cache, "--image-cache")
    console = Console()

    run_until_signal(lambda: _serve(options, images, cache, console))
