"""Tests of `registry-mirror render` and the input checks of `deploy`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from main.cli.app import run
from main.render import render_manifests
from main.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_FILE = ROOT / "registry-mirror.toml"
SETTINGS = f"--settings={SETTINGS_FILE}"


def test_render_prints_one_stream_of_every_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected = render_manifests(load_settings(SETTINGS_FILE))

    code = run(["render", SETTINGS])

    out = capsys.readouterr().out
    documents = [doc for doc in yaml.safe_load_all(out) if doc]
    assert code == 0
    assert out == "".join(
        expected[name] for name in sorted(expected) if name != "kustomization.yaml"
    )
    assert documents[0]["kind"] == "Namespace"
    assert all("apiVersion" in doc for doc in documents)


def test_render_writes_the_kustomize_base(tmp_path: Path) -> None:
    out_dir = tmp_path / "k8s"

    code = run(["render", SETTINGS, f"--out-dir={out_dir}"])

    expected = render_manifests(load_settings(SETTINGS_FILE))
    assert code == 0
    assert sorted(path.name for path in out_dir.iterdir()) == sorted(expected)
    for name, text in expected.items():
        assert (out_dir / name).read_text(encoding="utf-8") == text


def test_render_applies_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["render", SETTINGS, "--set=storage.size=75Gi"])

    out = capsys.readouterr().out
    assert code == 0
    assert "storage: 75Gi" in out


@pytest.mark.parametrize(
    ("override", "message"),
    [
        pytest.param("storage.size", "invalid override 'storage.size'", id="no-equals"),
        pytest.param("=1", "invalid override '=1'", id="no-key"),
    ],
)
def test_render_rejects_bad_override(
    override: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["render", SETTINGS, f"--set={override}"])

    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("", "is empty", id="empty"),
        pytest.param("{unclosed", "is not valid YAML", id="not-yaml"),
        pytest.param(
            "apiVersion: v1\nkind: Config\nclusters: []\n",
            "has no current-context",
            id="no-current-context",
        ),
    ],
)
def test_deploy_rejects_bad_kubeconfig_in_one_line(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(content, encoding="utf-8")

    code = run(["deploy", SETTINGS, f"--kubeconfig={kubeconfig}"])

    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1


def test_deploy_needs_a_kubeconfig(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)

    code = run(["deploy", SETTINGS])

    assert code == 2
    assert "no kubeconfig: pass --kubeconfig PATH" in capsys.readouterr().err


def test_deploy_rejects_kubeconfig_list(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", "/a/config:/b/config")

    code = run(["deploy", SETTINGS])

    assert code == 2
    assert "KUBECONFIG lists several files" in capsys.readouterr().err
