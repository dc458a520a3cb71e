"""`--settings` and `--set`, shared by render, deploy and status."""

from __future__ import annotations

from pathlib import Path

import typer

from main.cli.assignments import parse_assignments
from main.settings import DEFAULT_SETTINGS_FILE, Settings, load_settings

__all__ = ["SETTINGS_OPTION", "SET_OPTION", "load_cli_settings"]

SETTINGS_OPTION = typer.Option(
    None,
    "--settings",
    help=(
        f"Settings file (default: {DEFAULT_SETTINGS_FILE} in the current folder "
        "if it exists, else the built-in defaults)."
    ),
)
SET_OPTION = typer.Option(
    [],
    "--set",
    help="Override one setting as KEY=VALUE, such as storage.size=100Gi; repeatable.",
)


def load_cli_settings(settings_file: Path | None, overrides: list[str]) -> Settings:
    """Load the settings file the options name, with the `--set` overrides applied."""
    if settings_file is None:
        default = Path(DEFAULT_SETTINGS_FILE)
        settings_file = default if default.is_file() else None
    return load_settings(settings_file, parse_assignments(overrides))
