"""The `registry-mirror warm` command's checks of its options."""

from __future__ import annotations

from pathlib import Path

import pytest

from main.cli.app import run

# Port 9 (discard) on loopback refuses connections, so nothing is warmed.
CLOSED_MIRROR = "docker.io=http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        pytest.param("missing.toml", None, "not found", id="missing"),
        pytest.param("broken.toml", "namespaces = [", "not valid TOML", id="broken"),
        pytest.param("folder.toml", "", "cannot be read", id="folder"),
    ],
)
def test_warm_rejects_unusable_settings_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str | None,
    fragment: str,
) -> None:
    settings = tmp_path / name
    if name == "folder.toml":
        settings.mkdir()
    elif content is not None:
        settings.write_text(content, encoding="utf-8")

    code = run(
        [
            "warm",
            f"--settings={settings}",
            f"--mirror={CLOSED_MIRROR}",
            "--image=debian:bookworm-slim",
        ]
    )

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert str(settings) in captured.err
    assert fragment in captured.err
