"""Shared pytest configuration: the anyio backend and the fixture plugins."""

import pytest
from hypothesis import HealthCheck, settings

# On a loaded machine, generating examples can take seconds, which would fail
# correct property tests on Hypothesis's deadline or too_slow health check.
# The number of examples stays at Hypothesis's default.
settings.register_profile(
    "registry-mirror",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("registry-mirror")

pytest_plugins = [
    "tests.fixtures.images",
    "tests.fixtures.registry",
    "tests.fixtures.hub",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
