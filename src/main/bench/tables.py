"""Terminal tables of a benchmark run: results, goals and resilience checks."""

from __future__ import annotations

from rich.table import Table

from main.bench.goals import goal_rows
from main.bench.model import BenchmarkRun, ScenarioResult

NUMERIC_COLUMNS = (
    "clients",
    "wall s",
    "MB",
    "MB/s",
    "upstream req",
    "upstream MB",
    "counted pulls",
    "quota left",
)


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f}"


def _quota(result: ScenarioResult) -> str:
    remaining = result.upstream.remaining_quota
    return "-" if remaining is None else str(remaining)


def build_table(run: BenchmarkRun) -> Table:
    """Lay the results out as one row per image, scenario and mirror kind."""
    table = Table(title="registry-mirror benchmark", title_justify="left")
    for header in ("image", "scenario", "mirror"):
        table.add_column(header)
    for header in NUMERIC_COLUMNS:
        table.add_column(header, justify="right")
    for result in run.results:
        table.add_row(
            result.image,
            result.scenario,
            result.mirror or "-",
            str(result.clients),
            f"{result.median_seconds:.2f}",
            _megabytes(result.client_bytes),
            f"{result.megabytes_per_second:.1f}",
            str(result.upstream.requests),
            _megabytes(result.upstream.bytes),
            str(result.upstream.counted_pulls),
            _quota(result),
        )
    return table


def build_goal_table(run: BenchmarkRun) -> Table:
    """Show every goal beside each mirror kind's figure from this run."""
    table = Table(title="goals (lower is better)", title_justify="left")
    table.add_column("image")
    table.add_column("figure")
    table.add_column("goal", justify="right")
    for mirror in run.settings.mirrors:
        table.add_column(mirror, justify="right")
    for row in goal_rows(run):
        table.add_row(
            row.image,
            row.goal.label,
            f"<= {row.goal.limit:.2f}",
            *(row.cell(mirror) for mirror in run.settings.mirrors),
        )
    return table


def build_check_table(run: BenchmarkRun) -> Table:
    """Show the resilience checks: passed or not, time, counted pulls, detail."""
    table = Table(title="resilience checks", title_justify="left")
    for header in ("check", "mirror", "result", "s", "counted pulls", "detail"):
        table.add_column(header)
    for check in run.checks:
        table.add_row(
            check.check,
            check.mirror,
            "passed" if check.passed else "FAILED",
            f"{check.seconds:.1f}",
            str(check.counted_pulls),
            check.detail,
        )
    return table
