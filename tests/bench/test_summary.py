import pytest

from main.bench.goals import goal_rows
from main.bench.model import MIRROR_WARM, BenchmarkRun
from main.bench.summary import summarise, summary_line
from tests.bench.conftest import IMAGE


def test_warm_uses_median_round(sample_run: BenchmarkRun) -> None:
    warm = sample_run.result(MIRROR_WARM, IMAGE, "plain")

    assert warm is not None
    assert warm.median_seconds == 0.6


def test_ratios_from_same_run(sample_run: BenchmarkRun) -> None:
    (summary,) = summarise(sample_run)

    assert summary.warm_over_local == pytest.approx(1.2)
    assert summary.cold_over_warm == pytest.approx(10.0)
    assert summary.hub_over_warm == pytest.approx(5.0)
    assert summary.cold_upstream_over_image == pytest.approx(2.0)
    assert summary.concurrent_upstream_over_image == pytest.approx(8.0)
    assert summary.concurrent_counted_pulls == 8
    assert summary.single_counted_pulls == 1
    assert summary.cold_over_hub == pytest.approx(2.0)
    assert summary.concurrent_over_cold == pytest.approx(1.5)


def test_missing_scenario_gives_none(sample_run: BenchmarkRun) -> None:
    sample_run.results = [r for r in sample_run.results if r.scenario != MIRROR_WARM]

    (summary,) = summarise(sample_run)

    assert summary.warm_over_local is None
    assert summary.cold_over_warm is None
    assert "n/a" in summary_line(summary, concurrency=8)


def test_goals_mark_missed_figures(sample_run: BenchmarkRun) -> None:
    rows = {row.goal.key: row for row in goal_rows(sample_run)}

    assert rows["cold_upstream_over_image"].met("plain") is False
    assert rows["cold_upstream_over_image"].cell("plain") == "2.00 MISSED"
    assert rows["concurrent_counted_per_single"].figures["plain"] == 8.0
    assert rows["warm_over_local"].met("plain") is False


def test_result_lookup_by_mirror(sample_run: BenchmarkRun) -> None:
    assert sample_run.result(MIRROR_WARM, IMAGE, "gateway") is None
    assert sample_run.result("local", IMAGE, "gateway") is not None
