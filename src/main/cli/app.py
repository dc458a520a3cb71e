"""The Typer application, logging set-up and the one-line error boundary."""

from __future__ import annotations

import importlib
import logging
import signal
import sys

import typer

# Typer bundles its own copy of Click; its exceptions are only importable here.
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from main.cli.signals import CommandInterrupted
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
COMMAND_MODULES = (
    "main.cli.benchmark",
    "main.cli.stack",
    "main.cli.render",
    "main.cli.deploy",
    "main.cli.gateway",
    "main.cli.warm",
    "main.cli.storage",
)

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


def _leaf_errors(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    leaves: list[BaseException] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            leaves.extend(_leaf_errors(error))
        else:
            leaves.append(error)
    return leaves


def _unwrap(error: BaseException) -> BaseException:
    """Return the user-facing error inside task-group exception groups."""
    if not isinstance(error, BaseExceptionGroup):
        return error
    leaves = _leaf_errors(error)
    for leaf in leaves:
        if isinstance(leaf, RegistryMirrorError | CommandInterrupted):
            return leaf
    return error


def _report(error: BaseException) -> int:
    """Print one line for a known error and return the exit code."""
    if isinstance(error, RegistryMirrorError):
        print(f"registry-mirror: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, UsageError) else EXIT_FAILURE
    if isinstance(error, CommandInterrupted):
        name = signal.Signals(error.signum).name
        print(f"registry-mirror: stopped by {name}; servers stopped", file=sys.stderr)
        # The shell convention for a process ended by signal N.
        return 128 + error.signum
    if isinstance(error, KeyboardInterrupt | typer.Abort):
        print("registry-mirror: interrupted; servers stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(error, NoArgsIsHelpError):
        print(error.format_message())
        return EXIT_USAGE
    if isinstance(error, ClickException):
        message = " ".join(error.format_message().split())
        print(f"registry-mirror: error: {message}", file=sys.stderr)
        return error.exit_code
    if isinstance(error, typer.Exit):
        return error.exit_code
    raise error


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and turn every user-facing error into one line on stderr."""
    _load_commands()
    try:
        # Typer turns a KeyboardInterrupt into the return value 130 here.
        code = app(args=argv, standalone_mode=False)
    except BaseException as error:
        return _report(_unwrap(error))
    if code == EXIT_INTERRUPTED:
        return _report(KeyboardInterrupt())
    return code if isinstance(code, int) else 0


def main() -> None:
    """Entry point of the `registry-mirror` script."""
    try:
        sys.exit(run())
    except KeyboardInterrupt:
        # Ctrl-C while the modules were still being imported.
        print("registry-mirror: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
