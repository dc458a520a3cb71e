"""Upstream credentials and tokens never reach a log, file, output or message.

The Docker Hub stand-in here accepts only the fake login in `leaks`, so every
pull through it proves that the credentials were really sent. The needles
are that password, its Basic header value, every bearer token the stand-in
issued (recorded by a spy on its token issuer), and any `Authorization`
header value.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import anyio
import anyio.abc
import httpx
import pytest
from rich.console import Console

from main.bench.remote import RemoteTarget, run_remote
from main.bench.report import write_json
from main.bench.scenarios import PullImage
from main.bench.tables import build_table
from main.errors import RegistryError
from main.gateway import Credentials as GatewayCredentials
from main.gateway import GatewayConfig, run_gateway
from main.oci.auth import RegistryTokenAuth
from main.oci.client import PullResult, RegistryClient, new_http_client
from main.oci.platform import parse_platform
from main.oci.push import push_layout
from main.reference import parse_reference
from main.stack.hub import HubSettings, HubStandin, run_hub
from main.stack.hub_auth import BasicCredentials
from main.stack.images import SMALL_IMAGE
from main.stack.layout import ImageLayout
from main.stack.ports import free_port
from main.stack.registry import RegistryServer, run_registry
from main.stack.wan import WanProfile
from tests.cli.helpers import COMMAND
from tests.hardening.leaks import (
    BASIC_VALUE,
    PASSWORD,
    USERNAME,
    TokenSpy,
    find_leaks,
    read_tree,
    secret_values,
)

pytestmark = pytest.mark.anyio

AMD64 = parse_platform("linux/amd64")
ARM64 = parse_platform("linux/arm64")
IMAGE = f"{SMALL_IMAGE.repository}:{SMALL_IMAGE.tag}"
WRONG_PASSWORD = "pw-wrong-Jd8sLq2Vn5"
PROXY_ENV = {"REGISTRY_PROXY_USERNAME": USERNAME, "REGISTRY_PROXY_PASSWORD": PASSWORD}


@dataclass
class CredentialedStack:
    """Upstream, a stand-in that requires the login, and two mirrors using it."""

    upstream: RegistryServer
    hub: HubStandin
    plain_mirror: RegistryServer
    gateway_mirror: RegistryServer
    gateway_metrics_url: str
    http: httpx.AsyncClient


async def debug_logging(server: RegistryServer) -> None:
    """Restart a registry with debug logs, its most talkative level."""
    await server.stop()
    server.config = replace(server.config, log_level="debug")
    await server.start()


@pytest.fixture
async def credentialed_stack(
    small_image_layout: ImageLayout, tmp_path: Path
) -> AsyncIterator[CredentialedStack]:
    logs = tmp_path / "logs"
    logs.mkdir()
    hub_settings = HubSettings(
        wan=WanProfile(rtt_ms=0, bandwidth_mbit=0),
        credentials=BasicCredentials(USERNAME, PASSWORD),
        allow_anonymous=False,
    )
    gateway_config = GatewayConfig(
        "http://127.0.0.1:1",
        credentials=GatewayCredentials(USERNAME, PASSWORD),
        state_dir=tmp_path / "gateway-state",
        spool_dir=tmp_path / "gateway-spool",
        use_env_proxy=False,
    )
    (tmp_path / "gateway-spool").mkdir()
    async with AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(
            run_registry(name="upstream", log_path=logs / "upstream.log")
        )
        http = await stack.enter_async_context(new_http_client())
        await push_layout(
            http,
            upstream.base_url,
            small_image_layout,
            SMALL_IMAGE.repository,
            SMALL_IMAGE.tag,
        )
        hub = await stack.enter_async_context(run_hub(upstream.base_url, hub_settings))
        plain = await stack.enter_async_context(
            run_registry(
                hub.base_url,
                name="mirror",
                env=PROXY_ENV,
                log_path=logs / "plain-mirror.log",
            )
        )
        await debug_logging(plain)
        gateway = await stack.enter_async_context(
            run_gateway(replace(gateway_config, upstream_url=hub.base_url))
        )
        gateway_mirror = await stack.enter_async_context(
            run_registry(
                gateway.url, name="gateway mirror", log_path=logs / "gateway-mirror.log"
            )
        )
        yield CredentialedStack(
            upstream, hub, plain, gateway_mirror, gateway.metrics_url, http
        )


async def pull_error(client: RegistryClient, image: str) -> str:
    """Pull an image that must fail; return the error message."""
    with pytest.raises(RegistryError) as raised:
        await client.pull(parse_reference(image), AMD64)
    return str(raised.value)


def login_puller(http: httpx.AsyncClient) -> PullImage:
    """Return a benchmark pull function that logs in to the stand-in."""
    auth = RegistryTokenAuth(USERNAME, PASSWORD)

    async def pull(base_url: str, image: str) -> PullResult:
        client = RegistryClient(http, base_url, auth=auth)
        return await client.pull(parse_reference(image), AMD64)

    return pull


async def test_credentialed_pulls_leak_nothing(
    credentialed_stack: CredentialedStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    spy = TokenSpy()
    spy.install(monkeypatch)
    stack = credentialed_stack
    http = stack.http
    image = parse_reference(IMAGE)
    out = tmp_path / "out"
    out.mkdir()

    for mirror in (stack.plain_mirror, stack.gateway_mirror):
        client = RegistryClient(http, mirror.base_url)
        for platform in (AMD64, ARM64):
            await client.pull(image, platform)
    hub_login = RegistryTokenAuth(USERNAME, PASSWORD)
    await RegistryClient(http, stack.hub.base_url, auth=hub_login).pull(image, AMD64)
    wrong_login = RegistryTokenAuth(USERNAME, WRONG_PASSWORD)
    errors = [
        await pull_error(
            RegistryClient(http, stack.hub.base_url, auth=wrong_login), IMAGE
        ),
        await pull_error(RegistryClient(http, stack.hub.base_url), IMAGE),
        await pull_error(RegistryClient(http, stack.plain_mirror.base_url), "nope:1"),
        await pull_error(RegistryClient(http, stack.gateway_mirror.base_url), "nope:1"),
    ]
    target = RemoteTarget(
        http,
        stack.gateway_mirror.base_url,
        stack.hub.base_url,
        stack.gateway_metrics_url,
    )
    run = await run_remote(
        target,
        login_puller(http),
        [IMAGE],
        platform=AMD64,
        concurrency=2,
        warm_rounds=1,
    )
    json_path = write_json(run, out)
    console = Console(record=True, width=200)
    console.print(build_table(run))
    metrics = (await http.get(stack.gateway_metrics_url)).text
    configs = {
        str(server.config_path): server.config_path.read_text()
        for server in (stack.upstream, stack.plain_mirror, stack.gateway_mirror)
    }

    texts = {
        **read_tree(tmp_path / "logs"),
        **read_tree(tmp_path / "gateway-state"),
        **read_tree(out),
        **configs,
        "captured log records": caplog.text,
        "error messages": "\n".join(errors),
        "benchmark table": console.export_text(),
        "gateway metrics": metrics,
    }
    leaks = find_leaks(texts, [*secret_values(spy.tokens), WRONG_PASSWORD])

    assert len(spy.tokens) >= 3
    assert str(json_path) in texts
    assert "DEBUG" in caplog.text
    assert "level=debug" in texts[str(tmp_path / "logs" / "plain-mirror.log")]
    assert leaks == []


async def wait_for_text(path: Path, text: str, process: anyio.abc.Process) -> None:
    """Wait until the file that a process writes its output to contains `text`."""
    with anyio.fail_after(60):
        while text not in await anyio.Path(path).read_text():
            if process.returncode is not None:
                pytest.fail(f"the command exited with {process.returncode}")
            await anyio.sleep(0.05)


async def test_gateway_command_leaks_nothing(
    credentialed_stack: CredentialedStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = TokenSpy()
    spy.install(monkeypatch)
    stack = credentialed_stack
    port = free_port()
    env = {
        **os.environ,
        "REGISTRY_MIRROR_UPSTREAM_USERNAME": USERNAME,
        "REGISTRY_MIRROR_UPSTREAM_PASSWORD": PASSWORD,
    }
    command = [
        *COMMAND,
        "--verbose",
        "gateway",
        "--upstream",
        stack.hub.base_url,
        "--listen",
        f"127.0.0.1:{port}",
        "--state-dir",
        str(tmp_path / "state"),
    ]
    stdout_path = tmp_path / "stdout.txt"
    stderr_path = tmp_path / "stderr.txt"

    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = await anyio.open_process(
            command, stdout=stdout, stderr=stderr, env=env
        )
    try:
        await wait_for_text(stdout_path, "listening", process)
        client = RegistryClient(stack.http, f"http://127.0.0.1:{port}")
        await client.pull(parse_reference(IMAGE), AMD64)
        missing = await pull_error(client, "nope:1")
    finally:
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(30):
            await process.wait()
        await process.aclose()
    texts = {
        "stdout": stdout_path.read_text(),
        "stderr": stderr_path.read_text(),
        "error message": missing,
        **read_tree(tmp_path / "state"),
    }
    leaks = find_leaks(texts, secret_values(spy.tokens))

    assert spy.tokens != []
    assert "INFO" in texts["stderr"]
    assert leaks == []


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(f"login {PASSWORD} failed", id="password"),
        pytest.param(f"header Basic {BASIC_VALUE}", id="basic-value"),
        pytest.param("token tok-123 issued", id="token"),
        pytest.param("'Authorization': 'Bearer abc'", id="header-dict"),
        pytest.param("authorization: basic Zm9v", id="header-line"),
    ],
)
def test_leak_search_finds_secret(line: str) -> None:
    leaks = find_leaks({"log": line}, secret_values(["tok-123"]))

    assert leaks != []
