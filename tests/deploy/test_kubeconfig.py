"""Tests of the kubeconfig check that runs before kubectl touches anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from main.deploy import check_kubeconfig, read_kubeconfig
from main.errors import UsageError

VALID = """\
apiVersion: v1
kind: Config
current-context: home
contexts:
  - name: home
    context: {cluster: home-cluster, user: admin}
clusters:
  - name: home-cluster
    cluster: {server: "https://192.168.1.10:6443"}
users:
  - name: admin
    user: {token: not-a-real-token-5f1c}
"""


def test_valid_kubeconfig_names_its_target() -> None:
    target = check_kubeconfig(VALID)

    assert target.context == "home"
    assert target.cluster == "home-cluster"
    assert target.server == "https://192.168.1.10:6443"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "is empty", id="empty"),
        pytest.param("  \n\n", "is empty", id="blank"),
        pytest.param("clusters: [\n  - {name: a\n", "is not valid YAML", id="not-yaml"),
        pytest.param("just a string\n", "is not a kubeconfig", id="scalar"),
        pytest.param("kind: Pod\n", "is not a kubeconfig", id="other-kind"),
        pytest.param(
            VALID.replace("current-context: home\n", ""),
            "has no current-context",
            id="no-current-context",
        ),
        pytest.param(
            VALID.replace("current-context: home", 'current-context: ""'),
            "has no current-context",
            id="empty-current-context",
        ),
        pytest.param(
            VALID.replace("current-context: home", "current-context: work"),
            "'work', which is not in its contexts",
            id="unknown-context",
        ),
        pytest.param(
            VALID.replace('{server: "https://192.168.1.10:6443"}', "{}"),
            "has no cluster with a server",
            id="no-server",
        ),
    ],
)
def test_bad_kubeconfig_fails_in_one_line(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        check_kubeconfig(text)

    assert "\n" not in str(caught.value)


def test_message_never_shows_credentials() -> None:
    broken = VALID.replace("current-context: home", "current-context: [")

    with pytest.raises(UsageError) as caught:
        check_kubeconfig(broken)

    assert "not-a-real-token" not in str(caught.value)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(UsageError, match=r"absent\.yaml' not found"):
        read_kubeconfig(path)


def test_file_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(VALID, encoding="utf-8")

    target = read_kubeconfig(path)

    assert target.context == "home"
