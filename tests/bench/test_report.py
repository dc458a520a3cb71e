import json
from pathlib import Path

import pytest
from rich.console import Console

from main.bench.model import SCHEMA_VERSION, BenchmarkRun
from main.bench.report import check_output_dir, write_chart, write_json
from main.bench.tables import build_goal_table, build_table
from main.errors import UsageError


def test_json_has_documented_layout(sample_run: BenchmarkRun, tmp_path: Path) -> None:
    path = write_json(sample_run, tmp_path)

    document = json.loads(path.read_text())
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["settings"]["concurrency"] == 8
    assert len(document["results"]) == 5
    first = document["results"][0]
    for key in (
        "scenario",
        "image",
        "clients",
        "wall_seconds",
        "median_seconds",
        "client_bytes",
        "image_bytes",
        "megabytes_per_second",
        "upstream",
    ):
        assert key in first
    assert set(first["upstream"]) == {
        "requests",
        "bytes",
        "counted_pulls",
        "remaining_quota",
    }
    assert document["summary"][0]["cold_over_warm"] == pytest.approx(10.0)
    assert document["summary"][0]["mirror"] == "plain"
    assert document["results"][2]["mirror"] == "plain"
    goal = document["goals"][0]
    assert set(goal) == {"image", "goal", "label", "limit", "figures", "met"}
    assert document["checks"] == []


def test_chart_is_png(sample_run: BenchmarkRun, tmp_path: Path) -> None:
    path = write_chart(sample_run, tmp_path)

    assert path.read_bytes().startswith(b"\x89PNG")
    assert path.stat().st_mode & 0o044 == 0o044
    assert [p.name for p in tmp_path.iterdir()] == ["benchmark.png"]


def test_table_lists_every_result(sample_run: BenchmarkRun) -> None:
    console = Console(width=200, record=True)

    console.print(build_table(sample_run))

    text = console.export_text()
    assert "mirror-cold-concurrent" in text
    assert text.count("library/debian:bookworm-slim") == 5


def test_goal_table_shows_limits(sample_run: BenchmarkRun) -> None:
    console = Console(width=200, record=True)

    console.print(build_goal_table(sample_run))

    text = console.export_text()
    assert "<= 1.01" in text
    assert "MISSED" in text


def test_output_dir_under_a_file_rejected(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")

    with pytest.raises(UsageError, match="--output-dir"):
        check_output_dir(blocker / "out")
