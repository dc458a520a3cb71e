"""`registry-mirror render`: print or write the rendered Kubernetes manifests."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from main.cli.app import app
from main.cli.settings_options import SET_OPTION, SETTINGS_OPTION, load_cli_settings
from main.render import render_manifests, write_manifests
from main.render.kustomize import KUSTOMIZATION


@app.command()
def render(
    out_dir: Path | None = typer.Option(
        None,
        "--out-dir",
        help=(
            "Folder to replace with the kustomize base, such as k8s "
            "(default: print one YAML stream to stdout)."
        ),
    ),
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] = SET_OPTION,
) -> None:
    """Render the mirrors, the engine and their policies as Kubernetes manifests."""
    settings = load_cli_settings(settings_file, overrides)
    if out_dir is None:
        files = render_manifests(settings)
        # Files are named in apply order, so one stream in name order applies
        # with `kubectl apply -f -`; the kustomization only lists the files.
        for name in sorted(files):
            if name != KUSTOMIZATION:
                sys.stdout.write(files[name])
        return
    written = write_manifests(settings, out_dir)
    print(f"wrote {len(written)} files to {out_dir}", file=sys.stderr)
