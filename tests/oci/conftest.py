"""Fixtures for the pull client tests: an httpx client and seeded content."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from main.oci.client import ClientOptions, new_http_client
from main.stack.registry import RegistryServer
from tests.oci.seed import SeededImage, push_multi_platform_image

# Short timeouts keep a failing test from hanging, because loopback responds
# in milliseconds.
TEST_OPTIONS = ClientOptions(
    connect_timeout=2.0,
    read_timeout=5.0,
    manifest_deadline=10.0,
    retry_backoff=0.01,
)


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """Yield the one httpx client of a test, closed afterwards."""
    async with new_http_client(TEST_OPTIONS) as client:
        yield client


@pytest.fixture
async def seeded_image(upstream_server: RegistryServer) -> SeededImage:
    """Push a two-platform OCI image to the upstream registry."""
    return await push_multi_platform_image(upstream_server.base_url)
