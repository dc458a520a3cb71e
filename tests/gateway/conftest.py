"""Fixtures for the gateway tests: a mirror whose upstream side is the gateway.

The chain is the real one: docker-registry in proxy mode -> gateway -> Docker
Hub stand-in -> plain docker-registry, all on 127.0.0.1. Timeouts and
back-offs are short, so tests of a hung or failing upstream finish in
seconds. The tests assert counts of requests and bytes, never times.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from main.gateway import GatewayConfig, GatewayServer, run_gateway
from main.oci.client import new_http_client
from main.stack.hub import HubStandin
from main.stack.registry import RegistryServer, run_registry
from tests.gateway.helpers import CLIENT_OPTIONS


@pytest.fixture
def gateway_config(hub_standin: HubStandin, tmp_path: Path) -> GatewayConfig:
    """Return gateway settings with short timeouts and back-offs."""
    return GatewayConfig(
        hub_standin.base_url,
        state_dir=tmp_path / "gateway-state",
        spool_dir=None,
        connect_timeout=1.0,
        read_timeout=1.0,
        tag_deadline=0.3,
        backoff_initial=0.2,
        backoff_max=0.5,
        rate_limit_backoff=30.0,
        use_env_proxy=False,
    )


@pytest.fixture
async def gateway(gateway_config: GatewayConfig) -> AsyncIterator[GatewayServer]:
    """Run a gateway in front of the stand-in; yield its handle."""
    async with run_gateway(gateway_config) as server:
        yield server


@pytest.fixture
async def gateway_mirror(gateway: GatewayServer) -> AsyncIterator[RegistryServer]:
    """Run docker-registry as a mirror whose remote URL is the gateway."""
    async with run_registry(gateway.url, name="mirror") as mirror:
        yield mirror


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """Yield an httpx client for the pull client, closed afterwards."""
    async with new_http_client(CLIENT_OPTIONS) as client:
        yield client
