"""Run an async command so that SIGINT and SIGTERM stop it cleanly.

Both signals cancel the command; its context managers then stop every server
they started, and `Interrupted` tells the CLI to exit with code 130.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


class CommandInterrupted(Exception):
    """Raised when SIGINT or SIGTERM stopped a command; carries the signal."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


async def _run_until_signal(command: Callable[[], Awaitable[T]]) -> T:
    received: list[int] = []
    outcome: list[T] = []

    async with anyio.create_task_group() as group:

        async def watch_signals() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    received.append(signum)
                    group.cancel_scope.cancel()
                    return

        async def run_command() -> None:
            outcome.append(await command())
            group.cancel_scope.cancel()

        group.start_soon(watch_signals)
        group.start_soon(run_command)

    if received or not outcome:
        raise CommandInterrupted(received[0] if received else signal.SIGINT)
    return outcome[0]


def run_until_signal(command: Callable[[], Awaitable[T]]) -> T:
    """Run `command` on asyncio; raise CommandInterrupted if a signal stopped it."""
    return anyio.run(_run_until_signal, command)
