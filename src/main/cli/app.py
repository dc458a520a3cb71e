"""The Typer application, logging set-up and the one-line error boundary."""

from __future__ import annotations

import importlib
import logging
import sys

import click
import typer

from main.errors import RegistryMirrorError, UsageError

app = typer.Typer(
    name="registry-mirror",
    help=(
        "Pull-through registry mirrors for a self-hosted Dagger engine: "
        "benchmark them on an embedded stack, render and deploy them."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each module registers its commands on `app` when imported.
COMMAND_MODULES = ("main.cli.benchmark", "main.cli.stack")

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@app.callback()
def configure(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log every external action (INFO level)."
    ),
) -> None:
    """Set up logging for every command."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _load_commands() -> None:
    for module in COMMAND_MODULES:
        importlib.import_module(module)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and turn every user-facing error into one line on stderr."""
    _load_commands()
    try:
        app(args=argv, standalone_mode=False)
    except RegistryMirrorError as exc:
        print(f"registry-mirror: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_FAILURE
    except click.exceptions.Abort:
        print("registry-mirror: interrupted; servers stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("registry-mirror: interrupted; servers stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except click.exceptions.ClickException as exc:
        print(f"registry-mirror: error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return 0


def main() -> None:
    sys.exit(run())
