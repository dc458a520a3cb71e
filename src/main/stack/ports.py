"""Find free TCP ports on the loopback interface and check chosen ones."""

from __future__ import annotations

import errno
import socket

from main.errors import StackError

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on `host` that no process listens on right now.

    The kernel picks the port, so two calls rarely return the same one. Another
    process can still take it before the caller binds it, so a server that fails
    to bind must report its own error.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """Return whether binding `host:port` fails because the address is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too, so a port left in TIME_WAIT by a stopped
        # server counts as free, as it would for the server about to bind it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def ensure_port_free(port: int, option: str, host: str = LOOPBACK) -> None:
    """Raise `StackError` when a user-chosen `port` on `host` is already taken.

    `option` names the command-line option that sets the port, so the message
    can tell the user how to pick another one.
    """
    if not 1 <= port <= 65535:
        msg = f"port {port} is invalid; choose one from 1 to 65535 with {option}"
        raise StackError(msg)
    if port_in_use(port, host):
        msg = (
            f"port {port} on {host} is already in use; choose another with "
            f"{option} or stop the process using it"
        )
        raise StackError(msg)


def resolve_port(port: int | None, option: str, host: str = LOOPBACK) -> int:
    """Return `port` after checking it is free, or a free port when it is None."""
    if port is None:
        return free_port(host)
    ensure_port_free(port, option, host)
    return port
