"""The registry token flow against the Docker Hub stand-in on 127.0.0.1."""

from __future__ import annotations

import logging
from dataclasses import replace

import anyio
import httpx
import pytest

from main.errors import RateLimitedError, RegistryError
from main.oci.auth import RegistryTokenAuth
from main.oci.client import RegistryClient
from main.reference import ImageReference, parse_reference
from main.stack.hub import HubSettings, HubStandin
from main.stack.hub_auth import BasicCredentials
from main.stack.wan import WanProfile
from tests.oci.conftest import TEST_OPTIONS
from tests.oci.seed import SeededImage, push_multi_platform_image

pytestmark = pytest.mark.anyio

NO_WAN = WanProfile(rtt_ms=0, bandwidth_mbit=0)
USER = "mirror-bot"
PASSWORD = "s3cret-Passw0rd"
WITH_CREDENTIALS = HubSettings(
    wan=NO_WAN,
    credentials=BasicCredentials(USER, PASSWORD),
    allow_anonymous=False,
)


@pytest.fixture
def hub_settings(request: pytest.FixtureRequest) -> HubSettings:
    """Return the settings that a test requests by indirect parametrisation."""
    settings: HubSettings = getattr(request, "param", HubSettings(wan=NO_WAN))
    return settings


@pytest.fixture
async def hub_image(upstream_registry: str, hub_standin: HubStandin) -> SeededImage:
    """Push a two-platform image to the stand-in's upstream; zero the counters."""
    image = await push_multi_platform_image(upstream_registry)
    hub_standin.reset()
    return image


def _reference(image: SeededImage) -> ImageReference:
    return parse_reference(f"{image.repository}:{image.tag}")


def _client(
    http: httpx.AsyncClient, hub: HubStandin, auth: RegistryTokenAuth | None
) -> RegistryClient:
    return RegistryClient(http, hub.base_url, auth=auth, options=TEST_OPTIONS)


async def test_anonymous_token_dance(
    http_client: httpx.AsyncClient, hub_standin: HubStandin, hub_image: SeededImage
) -> None:
    auth = RegistryTokenAuth()

    result = await _client(http_client, hub_standin, auth).pull(_reference(hub_image))

    stats = hub_standin.stats()
    assert result.manifest_digest == (
        hub_image.platforms["linux/amd64"].manifest_digest
    )
    assert auth.token_requests == 1
    assert stats.count("GET", "token") == 1
    # The first HEAD gets the challenge and the second one carries the token.
    assert stats.count("HEAD", "manifest") == 2
    assert stats.count("GET", "manifest") == 2
    assert stats.counted_pulls == 2


async def test_token_is_reused_across_pulls(
    http_client: httpx.AsyncClient, hub_standin: HubStandin, hub_image: SeededImage
) -> None:
    auth = RegistryTokenAuth()
    client = _client(http_client, hub_standin, auth)

    await client.pull(_reference(hub_image))
    await client.pull(_reference(hub_image))

    assert auth.token_requests == 1
    assert hub_standin.stats().count("GET", "token") == 1


async def test_missing_auth_is_denied(
    http_client: httpx.AsyncClient, hub_standin: HubStandin, hub_image: SeededImage
) -> None:
    client = _client(http_client, hub_standin, auth=None)

    with pytest.raises(RegistryError) as caught:
        await client.pull(_reference(hub_image))

    assert caught.value.status == 401
    assert "was denied (401" in str(caught.value)
    assert hub_standin.stats().counted_pulls == 0


@pytest.mark.parametrize("hub_settings", [WITH_CREDENTIALS], indirect=True)
async def test_credentials_reach_token_endpoint(
    http_client: httpx.AsyncClient,
    hub_standin: HubStandin,
    hub_image: SeededImage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = RegistryTokenAuth(USER, PASSWORD)

    result = await _client(http_client, hub_standin, auth).pull(_reference(hub_image))

    tokens = [token.value for token in auth._tokens.values()]
    assert result.blob_count == 5
    assert auth.token_requests == 1
    assert len(tokens) == 1
    for record in caplog.records:
        message = record.getMessage()
        assert PASSWORD not in message
        assert tokens[0] not in message
        assert "Basic " not in message


@pytest.mark.parametrize("hub_settings", [WITH_CREDENTIALS], indirect=True)
async def test_wrong_password_is_reported_without_it(
    http_client: httpx.AsyncClient,
    hub_standin: HubStandin,
    hub_image: SeededImage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-Passw0rd"
    auth = RegistryTokenAuth(USER, wrong)

    with pytest.raises(RegistryError) as caught:
        await _client(http_client, hub_standin, auth).pull(_reference(hub_image))

    message = str(caught.value)
    assert message.startswith("access to a token for scope ")
    assert "was denied (401" in message
    assert wrong not in message
    for record in caplog.records:
        assert wrong not in record.getMessage()


@pytest.mark.parametrize(
    "hub_settings", [HubSettings(wan=NO_WAN, pull_limit=1)], indirect=True
)
async def test_spent_quota_raises_rate_limited(
    http_client: httpx.AsyncClient, hub_standin: HubStandin, hub_image: SeededImage
) -> None:
    hub_standin.reset(limit=1)
    client = _client(http_client, hub_standin, RegistryTokenAuth())

    with pytest.raises(RateLimitedError) as caught:
        await client.pull(_reference(hub_image))

    message = str(caught.value)
    assert caught.value.status == 429
    assert "TOOMANYREQUESTS" in message
    assert "ratelimit-remaining: 0" in message
    assert hub_standin.stats().counted_pulls == 1


async def test_concurrent_pulls_share_one_token(
    http_client: httpx.AsyncClient, hub_standin: HubStandin, hub_image: SeededImage
) -> None:
    auth = RegistryTokenAuth()
    client = _client(http_client, hub_standin, auth)

    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(client.pull, _reference(hub_image))

    assert auth.token_requests == 1
    assert hub_standin.stats().count("GET", "token") == 1


async def test_rejected_cached_token_is_renewed(
    http_client: httpx.AsyncClient, hub_standin: HubStandin, hub_image: SeededImage
) -> None:
    auth = RegistryTokenAuth()
    client = _client(http_client, hub_standin, auth)
    await client.pull(_reference(hub_image))
    # Replace the cached token with one the stand-in never issued, as after a
    # registry restart that forgot its tokens.
    for key, token in list(auth._tokens.items()):
        auth._tokens[key] = replace(token, value="forgotten-token")

    result = await client.pull(_reference(hub_image))

    assert result.blob_count == 5
    assert auth.token_requests == 2
