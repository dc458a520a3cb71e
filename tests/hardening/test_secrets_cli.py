"""CLI runs that handle credentials print none of them, on success or error.

Each case runs the real CLI with `--verbose`, so INFO logs reach stderr too,
and passes a secret where a user could put one by mistake: in a URL, a
settings file, an override or a kubeconfig.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.helpers import run_cli
from tests.hardening.leaks import (
    BASIC_VALUE,
    PASSWORD,
    USERNAME,
    find_leaks,
    read_tree,
)

KUBE_TOKEN = "kube-token-Vb3nHs8QpL2x"
CLOSED = "127.0.0.1:1"
LOGIN_URL = f"http://{USERNAME}:{PASSWORD}@{CLOSED}"
# Status would otherwise also query the other mirrors at their cluster names.
ONLY_DOCKER_HUB = ["--set", "upstreams=docker.io"]
# A dry run reports an unreachable cluster in its plan, not as an error.
SUCCEEDING = {"render-credentials-reference", "deploy-unreachable-cluster"}

CREDENTIALS_SETTINGS = """
[upstreams."docker.io"]
url = "https://registry-1.docker.io"

[upstreams."docker.io".credentials]
secret = "dockerhub-login"
username_key = "user"
password_key = "token"
"""
INLINE_PASSWORD_SETTINGS = f"""
[upstreams."docker.io"]
url = "https://registry-1.docker.io"
password = "{PASSWORD}"
"""
KUBECONFIG = f"""
apiVersion: v1
kind: Config
current-context: home
clusters:
- name: home
  cluster: {{server: "https://{CLOSED}"}}
contexts:
- name: home
  context: {{cluster: home, user: admin}}
users:
- name: admin
  user: {{token: "{KUBE_TOKEN}"}}
- name: legacy
  user: {{username: "{USERNAME}", password: "{PASSWORD}"}}
"""
KUBECONFIG_BROKEN_YAML = f"""
kind: Config
users:
- name: admin
  user: {{token: "{KUBE_TOKEN}", password: "{PASSWORD}"
"""
KUBECONFIG_NO_CONTEXT = KUBECONFIG.replace("current-context: home\n", "")


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def cli_cases(folder: Path) -> dict[str, list[str]]:
    """Return command lines that each put a secret in the CLI's way."""
    kubeconfig = write(folder, "kubeconfig", KUBECONFIG)
    out = str(folder / "out")
    return {
        "render-credentials-reference": [
            "render",
            "--settings",
            write(folder, "credentials.toml", CREDENTIALS_SETTINGS),
            "--out-dir",
            str(folder / "k8s"),
        ],
        "render-inline-password": [
            "render",
            "--settings",
            write(folder, "inline.toml", INLINE_PASSWORD_SETTINGS),
        ],
        "render-password-override": [
            "render",
            "--set",
            f"upstreams.docker.io.password={PASSWORD}",
        ],
        "render-url-with-login": [
            "render",
            "--set",
            f"upstreams.docker.io.url=https://{USERNAME}:{PASSWORD}@registry-1.docker.io",
        ],
        "status-mirror-with-login": [
            "status",
            *ONLY_DOCKER_HUB,
            "--mirror",
            f"docker.io={LOGIN_URL}",
        ],
        "status-unreachable-cluster": [
            "status",
            *ONLY_DOCKER_HUB,
            "--mirror",
            f"docker.io=http://{CLOSED}",
            "--kubeconfig",
            kubeconfig,
        ],
        "deploy-unreachable-cluster": [
            "deploy",
            "--dry-run",
            "--kubeconfig",
            kubeconfig,
        ],
        "deploy-kubeconfig-not-yaml": [
            "deploy",
            "--dry-run",
            "--kubeconfig",
            write(folder, "broken", KUBECONFIG_BROKEN_YAML),
        ],
        "deploy-kubeconfig-no-context": [
            "deploy",
            "--dry-run",
            "--kubeconfig",
            write(folder, "no-context", KUBECONFIG_NO_CONTEXT),
        ],
        "benchmark-mirror-with-login": [
            "benchmark",
            "--mirror",
            LOGIN_URL,
            "--output-dir",
            out,
        ],
        "benchmark-upstream-with-login": [
            "benchmark",
            "--mirror",
            f"http://{CLOSED}",
            "--upstream",
            LOGIN_URL,
            "--output-dir",
            out,
        ],
        "benchmark-metrics-with-login": [
            "benchmark",
            "--mirror",
            f"http://{CLOSED}",
            "--metrics-url",
            f"{LOGIN_URL}/metrics",
            "--output-dir",
            out,
        ],
        "benchmark-image-with-login": [
            "benchmark",
            "--image",
            f"{USERNAME}:{PASSWORD}@{CLOSED}/library/debian:12",
            "--output-dir",
            out,
        ],
        "gateway-upstream-with-login": ["gateway", "--upstream", LOGIN_URL],
        "gateway-credentials-file-bad": [
            "gateway",
            "--upstream",
            f"http://{CLOSED}",
            "--credentials-file",
            write(folder, "login", f"{PASSWORD}\n"),
        ],
        "warm-mirror-with-login": [
            "warm",
            "--image",
            "debian:bookworm-slim",
            "--mirror",
            f"docker.io={LOGIN_URL}",
        ],
    }


CASES = [
    "render-credentials-reference",
    "render-inline-password",
    "render-password-override",
    "render-url-with-login",
    "status-mirror-with-login",
    "status-unreachable-cluster",
    "deploy-unreachable-cluster",
    "deploy-kubeconfig-not-yaml",
    "deploy-kubeconfig-no-context",
    "benchmark-mirror-with-login",
    "benchmark-upstream-with-login",
    "benchmark-metrics-with-login",
    "benchmark-image-with-login",
    "gateway-upstream-with-login",
    "gateway-credentials-file-bad",
    "warm-mirror-with-login",
]


@pytest.mark.parametrize("case", [pytest.param(case, id=case) for case in CASES])
def test_cli_prints_no_secret(case: str, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    args = cli_cases(inputs)[case]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KUBECONFIG", "REGISTRY_MIRROR_UPSTREAM_"))
    }
    env["TMPDIR"] = str(tmp_path)

    result = run_cli("--verbose", *args, env=env, timeout=120)
    texts = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        **read_tree(inputs / "k8s"),
        **read_tree(inputs / "out"),
    }
    leaks = find_leaks(texts, [PASSWORD, BASIC_VALUE, KUBE_TOKEN])

    assert (result.returncode == 0) == (case in SUCCEEDING), result.stderr
    assert "Traceback" not in result.stderr
    assert leaks == []
