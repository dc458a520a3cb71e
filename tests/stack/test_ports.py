"""Tests for free-port selection and the port-in-use check."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from main.errors import StackError
from main.stack.ports import ensure_port_free, free_port, port_in_use, resolve_port


@pytest.fixture
def taken_port() -> Iterator[int]:
    """Yield a port on 127.0.0.1 that a listening socket occupies."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_free_port_can_be_bound() -> None:
    port = free_port()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))

    assert 1024 <= port <= 65535


def test_port_in_use_detects_listener(taken_port: int) -> None:
    assert port_in_use(taken_port) is True


def test_port_in_use_false_for_free_port() -> None:
    assert port_in_use(free_port()) is False


def test_taken_port_error_names_option(taken_port: int) -> None:
    with pytest.raises(StackError) as caught:
        ensure_port_free(taken_port, "--hub-port")

    assert str(caught.value) == (
        f"port {taken_port} on 127.0.0.1 is already in use; choose another with "
        "--hub-port or stop the process using it"
    )


@pytest.mark.parametrize(
    "port", [pytest.param(0, id="zero"), pytest.param(70000, id="too-big")]
)
def test_out_of_range_port_rejected(port: int) -> None:
    with pytest.raises(StackError, match="choose one from 1 to 65535"):
        ensure_port_free(port, "--mirror-port")


def test_resolve_port_keeps_free_choice() -> None:
    port = free_port()

    assert resolve_port(port, "--mirror-port") == port


def test_resolve_port_picks_when_none() -> None:
    assert resolve_port(None, "--mirror-port") > 0
