"""Fixtures for the status tests: a real gateway and a mirror that pulls through it.

The chain is the one a mirror pod runs: docker-registry in proxy mode, the
gateway, the Docker Hub stand-in and a plain docker-registry, all on
127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from main.gateway import GatewayConfig, GatewayServer, run_gateway
from main.stack.hub import HubStandin
from main.stack.registry import RegistryServer, run_registry


@pytest.fixture
async def gateway(
    hub_standin: HubStandin, tmp_path: Path
) -> AsyncIterator[GatewayServer]:
    """Run a gateway in front of the Hub stand-in; yield its handle."""
    config = GatewayConfig(
        hub_standin.base_url,
        state_dir=tmp_path / "gateway-state",
        connect_timeout=2.0,
        read_timeout=5.0,
        use_env_proxy=False,
    )
    async with run_gateway(config) as server:
        yield server


@pytest.fixture
async def gateway_mirror(gateway: GatewayServer) -> AsyncIterator[RegistryServer]:
    """Run docker-registry as a mirror whose remote is the gateway."""
    async with run_registry(gateway.url, name="mirror") as mirror:
        yield mirror
