"""Shared pytest configuration: the anyio backend and the fixture plugins."""

import pytest

pytest_plugins = [
    "tests.fixtures.images",
    "tests.fixtures.registry",
    "tests.fixtures.hub",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
