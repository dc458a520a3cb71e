"""Tests for the Docker Hub stand-in over real HTTP in front of docker-registry."""

from __future__ import annotations

import re
import socket

import anyio
import httpx
import pytest

from main.errors import StackError
from main.stack.hub import HubSettings, HubStandin, run_hub
from main.stack.hub_auth import BasicCredentials
from main.stack.hub_state import FaultMode
from main.stack.ports import free_port
from main.stack.wan import WanProfile
from tests.fixtures.registry import SyntheticImage
from tests.stack.helpers import (
    bearer,
    blob_url,
    client,
    fetch_token,
    manifest_url,
)

pytestmark = pytest.mark.anyio

SCOPE = 'scope="repository:library/synthetic:pull"'


async def test_version_check_without_token_challenges(
    hub_standin: HubStandin,
) -> None:
    async with client() as http:
        response = await http.get(f"{hub_standin.base_url}/v2/")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{hub_standin.base_url}/token",service="registry.docker.io"'
    )


async def test_manifest_without_token_challenges_scope(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    async with client() as http:
        response = await http.get(manifest_url(hub_standin.base_url, synthetic_image))

    assert response.status_code == 401
    assert SCOPE in response.headers["www-authenticate"]
    assert "error=" not in response.headers["www-authenticate"]


async def test_token_response_fields(hub_standin: HubStandin) -> None:
    async with client() as http:
        response = await http.get(
            f"{hub_standin.base_url}/token",
            params={"service": "registry.docker.io", "scope": "repository:a/b:pull"},
        )

    body = response.json()
    assert response.status_code == 200
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["issued_at"])


async def test_token_dance_returns_manifest(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    hub = hub_standin.base_url

    async with client() as http:
        token = await fetch_token(http, hub, synthetic_image.name)
        version = await http.get(f"{hub}/v2/", headers=bearer(token))
        manifest = await http.get(
            manifest_url(hub, synthetic_image), headers=bearer(token)
        )

    assert version.status_code == 200
    assert version.headers["docker-distribution-api-version"] == "registry/2.0"
    assert manifest.status_code == 200
    assert manifest.content == synthetic_image.manifest


async def test_invalid_token_rejected(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    async with client() as http:
        response = await http.get(
            manifest_url(hub_standin.base_url, synthetic_image),
            headers=bearer("not-a-token"),
        )

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert SCOPE in response.headers["www-authenticate"]


async def test_wrong_scope_token_rejected(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    hub = hub_standin.base_url

    async with client() as http:
        token = await fetch_token(http, hub, "library/other")
        response = await http.get(
            manifest_url(hub, synthetic_image), headers=bearer(token)
        )

    assert response.status_code == 401
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert SCOPE in response.headers["www-authenticate"]


async def test_push_rejected(hub_standin: HubStandin) -> None:
    async with client() as http:
        response = await http.post(
            f"{hub_standin.base_url}/v2/library/synthetic/blobs/uploads/"
        )

    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "UNSUPPORTED"


@pytest.mark.parametrize(
    ("auth", "allow_anonymous", "status"),
    [
        pytest.param(("puller", "s3cret"), False, 200, id="right-credentials"),
        pytest.param(("puller", "wrong"), True, 401, id="wrong-password"),
        pytest.param(("intruder", "s3cret"), True, 401, id="wrong-user"),
        pytest.param(None, False, 401, id="anonymous-rejected"),
        pytest.param(None, True, 200, id="anonymous-allowed"),
    ],
)
async def test_token_endpoint_basic_credentials(
    upstream_registry: str,
    auth: tuple[str, str] | None,
    allow_anonymous: bool,
    status: int,
) -> None:
    settings = HubSettings(
        credentials=BasicCredentials("puller", "s3cret"),
        allow_anonymous=allow_anonymous,
        wan=WanProfile(rtt_ms=0, bandwidth_mbit=0),
    )

    async with run_hub(upstream_registry, settings) as hub, client() as http:
        response = await http.get(
            f"{hub.base_url}/token",
            params={"scope": "repository:library/synthetic:pull"},
            auth=auth,
        )

    assert response.status_code == status


async def test_head_not_counted(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    hub = hub_standin.base_url

    async with client() as http:
        token = await fetch_token(http, hub, synthetic_image.name)
        url = manifest_url(hub, synthetic_image)
        first = await http.head(url, headers=bearer(token))
        second = await http.head(url, headers=bearer(token))

    stats = hub_standin.stats()
    assert first.status_code == 200
    assert second.headers["docker-content-digest"] == synthetic_image.manifest_digest
    assert stats.counted_pulls == 0
    assert stats.remaining == 100
    assert stats.count("HEAD", "manifest") == 2
    assert second.headers["ratelimit-remaining"] == "100;w=21600"


async def test_get_counted_with_rate_limit_headers(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    hub = hub_standin.base_url

    async with client() as http:
        token = await fetch_token(http, hub, synthetic_image.name)
        response = await http.get(
            manifest_url(hub, synthetic_image), headers=bearer(token)
        )

    stats = hub_standin.stats()
    assert response.status_code == 200
    assert stats.counted_pulls == 1
    assert stats.remaining == 99
    assert stats.count("GET", "manifest") == 1
    assert response.headers["ratelimit-limit"] == "100;w=21600"
    assert response.headers["ratelimit-remaining"] == "99;w=21600"


async def test_failed_get_not_counted(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    hub = hub_standin.base_url

    async with client() as http:
        token = await fetch_token(http, hub, synthetic_image.name)
        response = await http.get(
            f"{hub}/v2/{synthetic_image.name}/manifests/no-such-tag",
            headers=bearer(token),
        )

    assert response.status_code == 404
    assert hub_standin.stats().counted_pulls == 0
    assert hub_standin.stats().remaining == 100


async def test_rate_limit_returns_429_after_limit(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    hub = hub_standin.base_url
    hub_standin.reset(limit=2)

    async with client() as http:
        token = await fetch_token(http, hub, synthetic_image.name)
        url = manifest_url(hub, synthetic_image)
        allowed = [await http.get(url, headers=bearer(token)) for _ in range(2)]
        limited = await http.get(url, headers=bearer(token))
        head = await http.head(url, headers=bearer(token))

    stats = hub_standin.stats()
    assert [response.status_code for response in allowed] == [200, 200]
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert limited.headers["ratelimit-limit"] == "2;w=21600"
    assert limited.headers["ratelimit-remaining"] == "0;w=21600"
    assert head.status_code == 200
    assert stats.counted_pulls == 2
    assert stats.rejected_pulls == 1
    assert stats.remaining == 0


async def test_blob_bytes_counted(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    hub = hub_standin.base_url
    digest = synthetic_image.layer_digests[-1]

    async with client() as http:
        token = await fetch_token(http, hub, synthetic_image.name)
        hub_standin.reset()
        response = await http.get(
            blob_url(hub, synthetic_image, digest), headers=bearer(token)
        )

    stats = hub_standin.stats()
    assert response.content == synthetic_image.layers[-1]
    assert stats.bytes_sent == len(synthetic_image.layers[-1])
    assert stats.count("GET", "blob") == 1
    assert stats.counted_pulls == 0


async def test_stats_endpoint_matches_object(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    hub = hub_standin.base_url

    async with client() as http:
        token = await fetch_token(http, hub, synthetic_image.name)
        await http.get(manifest_url(hub, synthetic_image), headers=bearer(token))
        response = await http.get(f"{hub}/_standin/stats")

    body = response.json()
    assert body == hub_standin.stats().to_json()
    assert body["counted_pulls"] == 1
    assert body["requests"] == {"GET": {"token": 1, "manifest": 1}}


async def test_reset_endpoint_zeroes_and_sets_limit(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    hub = hub_standin.base_url

    async with client() as http:
        token = await fetch_token(http, hub, synthetic_image.name)
        await http.get(manifest_url(hub, synthetic_image), headers=bearer(token))
        response = await http.post(f"{hub}/_standin/reset", json={"limit": 5})

    stats = hub_standin.stats()
    assert response.status_code == 200
    assert stats.limit == 5
    assert stats.remaining == 5
    assert stats.counted_pulls == 0
    assert stats.requests_total == 0
    assert stats.bytes_sent == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("reset", {"limit": -1}, id="negative-limit"),
        pytest.param("reset", {"limit": "ten"}, id="text-limit"),
        pytest.param("reset", [1], id="not-an-object"),
        pytest.param("fault", {"mode": "explode"}, id="unknown-mode"),
        pytest.param("fault", {}, id="missing-mode"),
    ],
)
async def test_control_endpoint_rejects_bad_body(
    hub_standin: HubStandin, path: str, body: object
) -> None:
    async with client() as http:
        response = await http.post(f"{hub_standin.base_url}/_standin/{path}", json=body)

    assert response.status_code == 400
    assert "error" in response.json()


async def test_fault_error500(hub_standin: HubStandin) -> None:
    async with client() as http:
        switched = await http.post(
            f"{hub_standin.base_url}/_standin/fault", json={"mode": "error500"}
        )
        response = await http.get(f"{hub_standin.base_url}/v2/")

    assert switched.json() == {"mode": "error500"}
    assert response.status_code == 500
    assert hub_standin.stats().fault is FaultMode.ERROR500


async def test_fault_ratelimit_rejects_get_only(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    hub = hub_standin.base_url

    async with client() as http:
        token = await fetch_token(http, hub, synthetic_image.name)
        hub_standin.set_fault(FaultMode.RATELIMIT)
        url = manifest_url(hub, synthetic_image)
        get = await http.get(url, headers=bearer(token))
        head = await http.head(url, headers=bearer(token))

    assert get.status_code == 429
    assert head.status_code == 200
    assert hub_standin.stats().remaining == 100


async def test_fault_refuse_closes_connection(hub_standin: HubStandin) -> None:
    hub_standin.set_fault(FaultMode.REFUSE)

    async with client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"{hub_standin.base_url}/v2/")
        hub_standin.set_fault(FaultMode.NORMAL)
        response = await http.get(f"{hub_standin.base_url}/v2/")

    assert response.status_code == 401


async def test_refuse_can_be_switched_off_over_http(hub_standin: HubStandin) -> None:
    control = f"{hub_standin.base_url}/_standin/fault"

    async with client() as http:
        await http.post(control, json={"mode": "refuse"})
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"{hub_standin.base_url}/v2/")
        switched = await http.post(control, json={"mode": "normal"})
        response = await http.get(f"{hub_standin.base_url}/v2/")

    assert switched.status_code == 200
    assert response.status_code == 401


async def test_fault_hang_times_out_client(hub_standin: HubStandin) -> None:
    hub_standin.set_fault(FaultMode.HANG)

    async with httpx.AsyncClient(trust_env=False, timeout=0.5) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{hub_standin.base_url}/v2/")


async def test_fault_hang_released_by_normal(hub_standin: HubStandin) -> None:
    hub_standin.set_fault(FaultMode.HANG)
    responses: list[httpx.Response] = []

    async def request(http: httpx.AsyncClient) -> None:
        responses.append(await http.get(f"{hub_standin.base_url}/v2/"))

    async with client() as http, anyio.create_task_group() as task_group:
        task_group.start_soon(request, http)
        for _ in range(500):
            if hub_standin.stats().requests_total > 0:
                break
            await anyio.sleep(0.01)
        held = not responses
        hub_standin.set_fault(FaultMode.NORMAL)

    assert held
    assert responses[0].status_code == 401


async def test_wan_paces_bodies_and_delays_requests(
    upstream_registry: str, synthetic_image: SyntheticImage
) -> None:
    settings = HubSettings(wan=WanProfile(rtt_ms=1, bandwidth_mbit=1000))
    digest = synthetic_image.layer_digests[-1]

    async with run_hub(upstream_registry, settings) as hub, client() as http:
        token = await fetch_token(http, hub.base_url, synthetic_image.name)
        response = await http.get(
            blob_url(hub.base_url, synthetic_image, digest), headers=bearer(token)
        )

    assert response.content == synthetic_image.layers[-1]
    assert hub.wan.delayed_requests == 2
    assert hub.wan.paced_bytes == hub.stats().bytes_sent
    assert hub.wan.paced_bytes > len(synthetic_image.layers[-1])


async def test_wan_disabled_paces_nothing(
    hub_standin: HubStandin, synthetic_image: SyntheticImage
) -> None:
    hub = hub_standin.base_url

    async with client() as http:
        token = await fetch_token(http, hub, synthetic_image.name)
        await http.get(manifest_url(hub, synthetic_image), headers=bearer(token))

    assert hub_standin.wan.delayed_requests == 0
    assert hub_standin.wan.paced_bytes == 0


async def test_taken_port_is_one_line_error(upstream_registry: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(StackError) as caught:
            async with run_hub(upstream_registry, port=port):
                pass

    assert str(caught.value) == (
        f"port {port} on 127.0.0.1 is already in use; choose another with "
        "--hub-port or stop the process using it"
    )


async def test_server_closed_after_exit(upstream_registry: str) -> None:
    async with run_hub(upstream_registry) as hub:
        url = f"{hub.base_url}/v2/"

    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


async def test_unreachable_upstream_gives_502() -> None:
    async with run_hub(f"http://127.0.0.1:{free_port()}") as hub, client() as http:
        token = await fetch_token(http, hub.base_url, "library/synthetic")
        response = await http.get(
            f"{hub.base_url}/v2/library/synthetic/manifests/latest",
            headers=bearer(token),
        )

    assert response.status_code == 502
    assert response.json()["errors"][0]["code"] == "UNAVAILABLE"
    assert hub.stats().counted_pulls == 0
    assert hub.stats().remaining == 100
