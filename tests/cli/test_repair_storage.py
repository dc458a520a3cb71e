"""`registry-mirror repair-storage`, the mirror pod's first init container."""

from pathlib import Path

from main.stack.storage_repair import SCHEDULER_STATE
from tests.cli.helpers import run_cli


def test_repair_moves_cut_state(tmp_path: Path) -> None:
    (tmp_path / SCHEDULER_STATE).write_text('{"library/debian": {"Ex')

    result = run_cli("repair-storage", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "moved an unreadable scheduler state" in result.stdout
    assert not (tmp_path / SCHEDULER_STATE).exists()


def test_repair_of_sound_storage_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / SCHEDULER_STATE).write_text("{}")

    result = run_cli("repair-storage", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "nothing to repair" in result.stdout
    assert (tmp_path / SCHEDULER_STATE).read_text() == "{}"


def test_repair_rejects_missing_folder(tmp_path: Path) -> None:
    result = run_cli("repair-storage", str(tmp_path / "missing"))

    assert result.returncode == 2
    assert "is not a folder" in result.stderr
    assert "Traceback" not in result.stderr
