import json

import httpx
import pytest

from main.errors import ManifestNotFoundError, RateLimitedError, RegistryError
from main.oci.http_errors import (
    check_response,
    deadline_error,
    translate_transport_errors,
)

URL = "http://127.0.0.1:1/v2/library/debian/manifests/12"
SUBJECT = "docker.io/library/debian:12"


def _response(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status, content=body, headers=headers, request=httpx.Request("GET", URL)
    )


def _registry_error(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


@pytest.mark.anyio
async def test_success_passes() -> None:
    await check_response(_response(200), SUBJECT)


@pytest.mark.anyio
async def test_not_found_names_reference() -> None:
    body = _registry_error("MANIFEST_UNKNOWN", "manifest unknown")

    with pytest.raises(ManifestNotFoundError) as caught:
        await check_response(_response(404, body), SUBJECT)

    message = str(caught.value)
    assert message.startswith(f"{SUBJECT} not found at {URL}")
    assert "MANIFEST_UNKNOWN manifest unknown" in message
    assert caught.value.status == 404


@pytest.mark.anyio
async def test_rate_limit_shows_quota_headers() -> None:
    headers = {
        "ratelimit-limit": "100;w=21600",
        "ratelimit-remaining": "0;w=21600",
        "retry-after": "60",
    }
    body = _registry_error("TOOMANYREQUESTS", "You have reached your pull rate limit")

    with pytest.raises(RateLimitedError) as caught:
        await check_response(_response(429, body, headers), SUBJECT)

    message = str(caught.value)
    assert "TOOMANYREQUESTS" in message
    assert "ratelimit-limit: 100;w=21600" in message
    assert "ratelimit-remaining: 0;w=21600" in message
    assert "retry-after: 60" in message
    assert caught.value.status == 429


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        pytest.param(401, "was denied (401", id="unauthorized"),
        pytest.param(403, "was denied (403", id="forbidden"),
        pytest.param(500, "registry error", id="internal"),
        pytest.param(503, "try again later", id="unavailable"),
        pytest.param(418, "unexpected response", id="other"),
    ],
)
@pytest.mark.anyio
async def test_status_maps_to_registry_error(status: int, phrase: str) -> None:
    with pytest.raises(RegistryError) as caught:
        await check_response(_response(status, b"<html>x</html>"), SUBJECT)

    assert phrase in str(caught.value)
    assert caught.value.status == status


@pytest.mark.anyio
async def test_error_detail_stays_on_one_line() -> None:
    body = _registry_error("UNKNOWN", "line one\nline two")

    with pytest.raises(RegistryError) as caught:
        await check_response(_response(500, body), SUBJECT)

    assert "\n" not in str(caught.value)
    assert "line one line two" in str(caught.value)


@pytest.mark.parametrize(
    ("raised", "phrase"),
    [
        pytest.param(httpx.ConnectTimeout("x"), "timed out while connecting", id="ct"),
        pytest.param(httpx.ReadTimeout("x"), "waiting for data", id="read-timeout"),
        pytest.param(httpx.PoolTimeout("x"), "free connection", id="pool-timeout"),
        pytest.param(httpx.ConnectError("refused"), "cannot connect", id="connect"),
        pytest.param(httpx.TooManyRedirects("x"), "too many redirects", id="loop"),
        pytest.param(httpx.DecodingError("bad gzip"), "cannot decode", id="decode"),
        pytest.param(
            httpx.RemoteProtocolError("peer closed"), "RemoteProtocolError", id="proto"
        ),
    ],
)
def test_transport_error_is_translated(raised: Exception, phrase: str) -> None:
    with pytest.raises(RegistryError) as caught, translate_transport_errors(URL):
        raise raised

    assert phrase in str(caught.value)
    assert URL in str(caught.value)
    assert caught.value.__cause__ is raised


def test_other_errors_pass_through() -> None:
    with pytest.raises(KeyError), translate_transport_errors(URL):
        raise KeyError("not an httpx error")


def test_deadline_error_names_seconds() -> None:
    error = deadline_error(URL, 2.5)

    assert "within 2.5 s" in str(error)
    assert error.url == URL


@pytest.mark.anyio
async def test_proxy_wrapped_rate_limit_is_unwrapped() -> None:
    # Distribution in proxy mode wraps the upstream's error in `detail`.
    upstream = {"code": "TOOMANYREQUESTS", "message": "pull rate limit reached"}
    wrapped = {"code": "UNKNOWN", "message": "unknown error"}
    wrapped["detail"] = {"errors": [upstream]}
    body = json.dumps({"errors": [wrapped]}).encode()

    with pytest.raises(RateLimitedError) as caught:
        await check_response(_response(500, body), SUBJECT)

    message = str(caught.value)
    assert "TOOMANYREQUESTS pull rate limit reached" in message
    assert "UNKNOWN" not in message
    assert caught.value.status == 500
