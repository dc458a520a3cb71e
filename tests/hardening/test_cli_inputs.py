"""Every kind of bad input ends in one line at the CLI, and nothing is left behind.

Each case runs the real `registry-mirror` as a subprocess in its own process
group. It checks for a non-zero exit code, exactly one line on stderr that
names the bad value, no traceback, no file in the output folder, and no
process left in the group. The unit and property-based tests named in the
third column test each kind in depth; this table proves that the CLI turns
it into a clean one-line error.

| kind | category | also tested in |
| --- | --- | --- |
| reference-empty | image reference | tests/test_reference.py (empty, blank) |
| reference-upper-case | image reference | tests/test_reference.py (upper-case*) |
| reference-bad-digest | image reference | tests/test_reference.py (short digest) |
| reference-digest-algorithm | image reference | tests/test_reference.py (md5) |
| reference-too-long | image reference | tests/test_reference.py (long-name) |
| reference-dot-dot | image reference | tests/test_reference.py (dot-dot) |
| reference-space | image reference | tests/test_reference.py (space, tab) |
| reference-unicode | image reference | tests/test_reference.py (unicode) |
| reference-control-character | image reference | tests/test_reference.py (nul) |
| reference-url-scheme | image reference | tests/test_reference.py (transport) |
| reference-with-login | image reference | tests/hardening/test_login_redaction.py |
| reference-empty-tag | image reference | tests/test_reference.py (empty-tag) |
| reference-image-id | image reference | tests/test_reference.py (image-id) |
| reference-not-embedded | image reference | tests/cli/test_errors.py |
| reference-other-registry | image reference | tests/cli/test_errors.py |
| platform-os-only | option | tests/oci/test_platform.py |
| concurrency-zero | option | tests/cli/test_errors.py |
| rtt-negative | option | tests/cli/test_errors.py |
| port-out-of-range | option | Click's range check |
| ports-repeated | option | tests/cli/test_errors.py |
| port-in-use | option | tests/stack/test_ports.py |
| registry-binary-missing | environment | tests/cli/test_errors.py |
| output-dir-under-file | output | tests/cli/test_errors.py |
| output-dir-unwritable | output | none |
| render-dir-foreign-files | output | tests/hardening/test_render_output.py |
| settings-size | settings | tests/test_settings.py (size-*) |
| settings-host-with-scheme | settings | tests/test_settings.py |
| settings-host-with-path | settings | tests/test_settings.py |
| settings-namespace-capitals | settings | tests/test_settings.py |
| settings-namespace-too-long | settings | tests/test_settings.py |
| settings-port | settings | tests/test_settings.py (port-*) |
| settings-duplicate-upstreams | settings | tests/test_settings.py |
| settings-url-without-scheme | settings | tests/test_settings.py |
| settings-ghcr-to-hub-mirror | settings | tests/test_settings.py |
| settings-unknown-key | settings | tests/test_settings.py (unknown-*) |
| settings-inline-password | settings | tests/test_settings.py |
| settings-not-toml | settings | tests/test_settings.py |
| settings-file-missing | settings | tests/test_settings.py |
| override-without-equals | settings | tests/deploy/test_cli.py |
| override-unknown-key | settings | tests/test_settings.py |
| kubeconfig-empty | kubeconfig | tests/deploy/test_kubeconfig.py |
| kubeconfig-not-yaml | kubeconfig | tests/deploy/test_kubeconfig.py |
| kubeconfig-no-current-context | kubeconfig | tests/deploy/test_kubeconfig.py |
| kubeconfig-unknown-context | kubeconfig | tests/deploy/test_kubeconfig.py |
| kubeconfig-no-server | kubeconfig | tests/deploy/test_kubeconfig.py |
| kubeconfig-missing-file | kubeconfig | tests/deploy/test_kubeconfig.py |
| kubeconfig-several-files | kubeconfig | tests/deploy/test_cli.py |
| answer-html | registry answer | tests/oci/test_manifest.py (html) |
| answer-truncated-manifest | registry answer | tests/oci/test_manifest.py |
| answer-wrong-media-type | registry answer | tests/oci/test_manifest.py |
| answer-huge-manifest | registry answer | tests/oci/test_client_responses.py |
| answer-redirect-loop | registry answer | tests/oci/test_client_responses.py |
| answer-slow-loris | registry answer | tests/oci/test_client_failures.py |
| answer-server-error | registry answer | tests/oci/test_http_errors.py |
| answer-rate-limited | registry answer | tests/oci/test_client_responses.py |
| answer-manifest-unknown | registry answer | tests/oci/test_http_errors.py |
| answer-blob-digest-mismatch | registry answer | tests/oci/test_digests.py |
| answer-connection-refused | registry answer | tests/oci/test_client_failures.py |
| mirror-url-with-login | URL | tests/hardening/test_secrets_cli.py |
| mirror-url-unbalanced-bracket | URL | tests/hardening/test_properties.py |
| mirror-url-port-not-a-number | URL | tests/test_reference.py |
| mirror-assignment-without-equals | URL | none |
| gateway-listen-invalid | URL | tests/gateway/test_cli.py |
| gateway-upstream-with-path | URL | tests/render/test_distribution.py |
| gateway-upstream-unbalanced-bracket | URL | tests/hardening/test_properties.py |
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from anyio.abc import ByteReceiveStream

from tests.cli.helpers import COMMAND
from tests.hardening.bad_registry import run_bad_registry

pytestmark = pytest.mark.anyio

CLOSED = "127.0.0.1:1"
# Bound on one CLI run; the slow-loris case waits for the client's 60 s
# manifest deadline.
RUN_SECONDS = 150.0

SETTINGS_FILES = {
    "size.toml": '[storage]\nsize = "50GB"\n',
    "duplicate.toml": (
        '[upstreams."a.example"]\nurl = "https://x.example"\n'
        '[upstreams."b.example"]\nurl = "https://x.example"\n'
    ),
    "inline-password.toml": '[upstreams."docker.io"]\npassword = "hunter2-x9"\n',
    "not-toml.toml": "storage = [size\n",
}
KUBECONFIG_OK = """\
apiVersion: v1
kind: Config
current-context: home
clusters:
- name: home
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: home
  context: {cluster: home, user: admin}
users:
- name: admin
  user: {token: "t"}
"""
KUBECONFIGS = {
    "kube-empty": "",
    "kube-not-yaml": "clusters: [\n",
    "kube-no-context": KUBECONFIG_OK.replace("current-context: home\n", ""),
    "kube-unknown-context": KUBECONFIG_OK.replace(
        "current-context: home", "current-context: work"
    ),
    "kube-no-server": KUBECONFIG_OK.replace('server: "https://127.0.0.1:1"', ""),
}


@dataclass(frozen=True)
class Case:
    """One kind of bad input: the command line and what the error must show."""

    args: tuple[str, ...]
    shown: str
    env: dict[str, str | None] = field(default_factory=dict)
    known_gap: pytest.MarkDecorator | None = None


def benchmark(*args: str) -> tuple[str, ...]:
    return ("benchmark", "--output-dir", "{out}", *args)


def remote(image: str) -> tuple[str, ...]:
    """Benchmark the faulty registry as mirror and upstream, so it is pulled."""
    return benchmark(
        "--mirror",
        "{bad}",
        "--upstream",
        "{bad}",
        "--image",
        image,
        "--concurrency",
        "1",
    )


def render(*args: str) -> tuple[str, ...]:
    return ("render", "--out-dir", "{out}", *args)


def deploy(kubeconfig: str) -> tuple[str, ...]:
    return ("deploy", "--dry-run", "--kubeconfig", kubeconfig)


CASES: dict[str, Case] = {
    "reference-empty": Case(benchmark("--image", ""), "image reference is empty"),
    "reference-upper-case": Case(benchmark("--image", "Debian:12"), "'Debian:12'"),
    "reference-bad-digest": Case(
        benchmark("--image", "debian@sha256:abc"), "'debian@sha256:abc'"
    ),
    "reference-digest-algorithm": Case(
        benchmark("--image", "debian@md5:abc"), "'debian@md5:abc'"
    ),
    "reference-too-long": Case(benchmark("--image", "a" * 300), "300 characters"),
    "reference-dot-dot": Case(
        benchmark("--image", "library/../etc:1"), "'library/../etc:1'"
    ),
    "reference-space": Case(benchmark("--image", "deb ian"), "'deb ian'"),
    "reference-unicode": Case(benchmark("--image", "débian"), "'débian'"),
    "reference-control-character": Case(
        benchmark("--image", "deb\x01ian"), "'deb\\x01ian'"
    ),
    "reference-url-scheme": Case(
        benchmark("--image", "docker://debian"), "'docker://'"
    ),
    "reference-with-login": Case(
        benchmark("--image", "robot:hunter2-x9@ghcr.io/org/app:1"),
        "'***@ghcr.io/org/app:1'",
    ),
    "reference-empty-tag": Case(benchmark("--image", "debian:"), "'debian:'"),
    "reference-image-id": Case(benchmark("--image", "f" * 64), "image ID"),
    "reference-not-embedded": Case(
        benchmark("--image", "library/nope:1"), "'library/nope:1'"
    ),
    "reference-other-registry": Case(
        benchmark("--image", "ghcr.io/org/tool:1"), "'ghcr.io/org/tool:1'"
    ),
    "platform-os-only": Case(benchmark("--platform", "linux"), "'linux'"),
    "concurrency-zero": Case(benchmark("--concurrency", "0"), "--concurrency"),
    "rtt-negative": Case(benchmark("--rtt-ms", "-5"), "--rtt-ms"),
    # NOTE: Click's range error names the option and the bound, not the value.
    "port-out-of-range": Case(
        benchmark("--mirror-port", "70000"), "'--mirror-port': Input should be"
    ),
    "ports-repeated": Case(
        benchmark("--mirror-port", "7000", "--hub-port", "7000"), "7000"
    ),
    "port-in-use": Case(
        ("up", "--image", "debian:bookworm-slim", "--mirror-port", "{busy}"),
        "{busy}",
    ),
    "registry-binary-missing": Case(
        ("up", "--image", "debian:bookworm-slim"),
        "apt-get install -y docker-registry",
        env={"PATH": str(Path(sys.executable).parent)},
    ),
    "output-dir-under-file": Case(
        ("benchmark", "--output-dir", "{inputs}/size.toml/out"), "size.toml/out"
    ),
    "output-dir-unwritable": Case(
        ("benchmark", "--output-dir", "/proc/registry-mirror-out"),
        "/proc/registry-mirror-out",
    ),
    "render-dir-foreign-files": Case(
        ("render", "--out-dir", "{inputs}"), "which is not a rendered manifest"
    ),
    "settings-size": Case(render("--settings", "{inputs}/size.toml"), "'50GB'"),
    "settings-host-with-scheme": Case(
        render("--set", "upstreams.ghcr.io.mirror=http://m:5000"), "'http://m:5000'"
    ),
    "settings-host-with-path": Case(
        render("--set", "upstreams.ghcr.io.mirror=m:5000/v2/"), "'m:5000/v2/'"
    ),
    "settings-namespace-capitals": Case(
        render("--set", "namespaces.mirrors=Registry_Mirror"), "'Registry_Mirror'"
    ),
    "settings-namespace-too-long": Case(
        render("--set", "namespaces.engine=" + "x" * 64), "x" * 64
    ),
    "settings-port": Case(render("--set", "engine.port=http"), "'http'"),
    "settings-duplicate-upstreams": Case(
        render("--settings", "{inputs}/duplicate.toml"), "'https://x.example'"
    ),
    "settings-url-without-scheme": Case(
        render("--set", "upstreams.docker.io.url=registry-1.docker.io"),
        "'registry-1.docker.io'",
    ),
    "settings-ghcr-to-hub-mirror": Case(
        render(
            "--set",
            "upstreams.ghcr.io.mirror="
            "mirror-docker-io.registry-mirror.svc.cluster.local:5000",
        ),
        "is the mirror of docker.io",
    ),
    "settings-unknown-key": Case(render("--set", "storage.sise=1Gi"), "storage.sise"),
    "settings-inline-password": Case(
        render("--settings", "{inputs}/inline-password.toml"), "is not accepted"
    ),
    "settings-not-toml": Case(
        render("--settings", "{inputs}/not-toml.toml"), "not-toml.toml"
    ),
    "settings-file-missing": Case(
        render("--settings", "{inputs}/absent.toml"), "absent.toml"
    ),
    "override-without-equals": Case(render("--set", "storage.size"), "'storage.size'"),
    "override-unknown-key": Case(render("--set", "nope=1"), "'nope'"),
    "kubeconfig-empty": Case(deploy("{inputs}/kube-empty"), "is empty"),
    "kubeconfig-not-yaml": Case(deploy("{inputs}/kube-not-yaml"), "not valid YAML"),
    "kubeconfig-no-current-context": Case(
        deploy("{inputs}/kube-no-context"), "no current-context"
    ),
    "kubeconfig-unknown-context": Case(
        deploy("{inputs}/kube-unknown-context"), "'work'"
    ),
    "kubeconfig-no-server": Case(deploy("{inputs}/kube-no-server"), "no cluster"),
    "kubeconfig-missing-file": Case(deploy("{inputs}/kube-absent"), "kube-absent"),
    "kubeconfig-several-files": Case(
        ("deploy", "--dry-run"),
        "several files",
        env={"KUBECONFIG": "{inputs}/kube-empty:{inputs}/kube-not-yaml"},
    ),
    "answer-html": Case(remote("html/app:1"), "html/app"),
    "answer-truncated-manifest": Case(remote("truncated/app:1"), "truncated/app"),
    "answer-wrong-media-type": Case(
        remote("wrong-media-type/app:1"), "wrong-media-type/app"
    ),
    "answer-huge-manifest": Case(remote("huge/app:1"), "huge/app"),
    "answer-redirect-loop": Case(remote("redirect-loop/app:1"), "redirect-loop/app"),
    "answer-slow-loris": Case(remote("slow-loris/app:1"), "slow-loris/app"),
    "answer-server-error": Case(remote("server-error/app:1"), "server-error/app"),
    "answer-rate-limited": Case(remote("rate-limited/app:1"), "rate-limited/app"),
    "answer-manifest-unknown": Case(remote("unknown/app:1"), "unknown/app"),
    "answer-blob-digest-mismatch": Case(
        remote("blob-mismatch/app:1"), "blob-mismatch/app"
    ),
    "answer-connection-refused": Case(
        benchmark("--mirror", f"http://{CLOSED}", "--upstream", f"http://{CLOSED}"),
        CLOSED,
    ),
    "mirror-url-with-login": Case(
        benchmark("--mirror", f"http://robot:hunter2-x9@{CLOSED}"), "127.0.0.1"
    ),
    "mirror-url-unbalanced-bracket": Case(
        benchmark("--mirror", "http://[oops"), "'http://[oops'"
    ),
    "mirror-url-port-not-a-number": Case(
        benchmark("--mirror", "http://127.0.0.1:abc"), "'http://127.0.0.1:abc'"
    ),
    "mirror-assignment-without-equals": Case(
        ("status", "--mirror", "docker.io"), "'docker.io'"
    ),
    "gateway-listen-invalid": Case(
        ("gateway", "--upstream", f"http://{CLOSED}", "--listen", "nohost"),
        "'nohost'",
    ),
    "gateway-upstream-with-path": Case(
        ("gateway", "--upstream", f"http://{CLOSED}/v2/"), f"'http://{CLOSED}/v2/'"
    ),
    "gateway-upstream-unbalanced-bracket": Case(
        ("gateway", "--upstream", "http://[oops"), "'http://[oops'"
    ),
}


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture
async def bad_registry() -> AsyncIterator[str]:
    async with run_bad_registry() as url:
        yield url


def write_inputs(folder: Path) -> None:
    folder.mkdir()
    for name, text in {**SETTINGS_FILES, **KUBECONFIGS}.items():
        (folder / name).write_text(text)


def process_group(group: int) -> list[int]:
    """List the live processes in a process group, read from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


async def run_in_own_group(
    command: list[str], env: dict[str, str]
) -> tuple[int, int, str]:
    """Run a command as leader of a new process group; return group, code, stderr."""
    errors: list[bytes] = []

    async def drain(stream: ByteReceiveStream, sink: list[bytes] | None) -> None:
        async for chunk in stream:
            if sink is not None:
                sink.append(chunk)

    process = await anyio.open_process(
        command, env=env, stdin=subprocess.DEVNULL, start_new_session=True
    )
    async with process:
        assert process.stdout is not None
        assert process.stderr is not None
        async with anyio.create_task_group() as group:
            group.start_soon(drain, process.stdout, None)
            group.start_soon(drain, process.stderr, errors)
        code = await process.wait()
    return process.pid, code, b"".join(errors).decode("utf-8", "replace")


def build_env(case: Case, values: dict[str, str], tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KUBECONFIG", "REGISTRY_MIRROR_"))
    }
    env["TMPDIR"] = str(tmp_path)
    for key, value in case.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value.format(**values)
    return env


def case_params() -> list[object]:
    params = []
    for kind, case in CASES.items():
        marks = [] if case.known_gap is None else [case.known_gap]
        params.append(pytest.param(kind, id=kind, marks=marks))
    return params


@pytest.mark.parametrize("kind", case_params())
async def test_bad_input_fails_in_one_line(
    kind: str, tmp_path: Path, busy_port: int, bad_registry: str
) -> None:
    case = CASES[kind]
    inputs = tmp_path / "inputs"
    out = tmp_path / "out"
    write_inputs(inputs)
    values = {
        "inputs": str(inputs),
        "out": str(out),
        "bad": bad_registry,
        "busy": str(busy_port),
    }
    args = [arg.format(**values) for arg in case.args]
    env = build_env(case, values, tmp_path)

    with anyio.fail_after(RUN_SECONDS):
        group, code, stderr = await run_in_own_group([*COMMAND, *args], env)
    lines = [line for line in stderr.splitlines() if line.strip()]
    written = sorted(str(path) for path in out.rglob("*")) if out.exists() else []

    assert code != 0
    assert len(lines) == 1, stderr
    assert case.shown.format(**values) in lines[0]
    assert "Traceback" not in stderr
    assert written == []
    assert process_group(group) == []
