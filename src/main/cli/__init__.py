"""The `registry-mirror` command line: one Typer app, commands in sibling modules."""

from main.cli.app import app, run

__all__ = ["app", "run"]
