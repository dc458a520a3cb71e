"""`registry-mirror warm`: pre-pull images into the mirrors."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from main.cli.app import app
from main.cli.signals import run_until_signal
from main.errors import RegistryMirrorError, UsageError
from main.oci.client import new_http_client
from main.oci.platform import Platform, parse_platform
from main.settings import DEFAULT_SETTINGS_FILE, load_settings
from main.warm.discover import FoundImage, discover_images, parse_images
from main.warm.run import WarmOutcome, parse_mirror_map, warm_images


def _mirrors(entries: list[str], settings_file: Path | None) -> dict[str, str]:
    """Return the --mirror map, else the in-cluster mirrors of the settings.

    A settings file given with --settings is loaded even when --mirror makes
    it unused, so that a wrong path or a broken file is an error.
    """
    explicit = load_settings(settings_file) if settings_file is not None else None
    if entries:
        return parse_mirror_map(entries)
    default_file = Path(DEFAULT_SETTINGS_FILE)
    settings = explicit or load_settings(
        default_file if default_file.is_file() else None
    )
    return {
        upstream.registry: f"http://{settings.mirror_address(upstream)}"
        for upstream in settings.upstreams
    }


def _collect(
    images: list[str], discover: Path | None, console: Console
) -> list[FoundImage]:
    found = parse_images(images)
    if discover is not None:
        if not discover.is_dir():
            msg = f"--discover '{discover}' is not a folder; give the repository root"
            raise UsageError(msg)
        discovered, skipped = discover_images(discover)
        for skip in skipped:
            console.print(f"skipped {skip.text!r} in {skip.source}: {skip.reason}")
        known = {str(item.reference) for item in found}
        found += [item for item in discovered if str(item.reference) not in known]
    if not found:
        msg = "nothing to warm; give images with --image or a folder with --discover"
        raise UsageError(msg)
    return found


def _table(outcomes: list[WarmOutcome]) -> Table:
    table = Table(title="warmed images", title_justify="left")
    for header in ("image", "mirror", "platforms", "MB pulled", "result"):
        table.add_column(header)
    for outcome in outcomes:
        table.add_row(
            outcome.image,
            outcome.mirror,
            ", ".join(outcome.platforms) or "-",
            f"{outcome.bytes / 1e6:.1f}",
            outcome.error or "ok",
        )
    return table


@app.command()
def warm(
    image: list[str] = typer.Option(
        [], "--image", "-i", help="Image to pre-pull; repeat for several."
    ),
    discover: Path | None = typer.Option(
        None,
        help="Also pre-pull the images that this repository's workflows, "
        "Dockerfiles and Dagger module name.",
    ),
    platform: list[str] = typer.Option(
        [], help="Platform to pull, such as linux/arm64; repeat. Default: all."
    ),
    mirror: list[str] = typer.Option(
        [],
        help="REGISTRY=URL of a mirror, such as docker.io=http://127.0.0.1:5000; "
        "repeat. Default: the in-cluster mirrors from the settings file.",
    ),
    settings_file: Path | None = typer.Option(
        None, "--settings", help="Settings file (default: registry-mirror.toml)."
    ),
    concurrency: int = typer.Option(4, min=1, max=32, help="Images warmed at once."),
) -> None:
    """Pre-pull images through their mirrors so later pulls are warm."""
    console = Console()
    platforms: list[Platform] = [parse_platform(text) for text in platform]
    mirrors = _mirrors(mirror, settings_file)
    found = _collect(image, discover, console)

    async def run() -> list[WarmOutcome]:
        async with new_http_client() as http:
            return await warm_images(http, found, mirrors, platforms, concurrency)

    outcomes = run_until_signal(run)

    console.print(_table(outcomes))
    failed = [outcome for outcome in outcomes if outcome.error]
    if failed:
        msg = f"{len(failed)} of {len(outcomes)} images could not be warmed"
        raise RegistryMirrorError(msg)
