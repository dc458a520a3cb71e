"""Benchmark output: a terminal table, a JSON document and a PNG chart."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from main.bench.checks import CHECK_DESCRIPTIONS
from main.bench.goals import goal_rows
from main.bench.model import (
    SCENARIO_DESCRIPTIONS,
    SCENARIO_ORDER,
    SCHEMA_VERSION,
    BenchmarkRun,
)
from main.bench.summary import ImageSummary, summarise
from main.errors import UsageError

JSON_NAME = "benchmark.json"
CHART_NAME = "benchmark.png"


def _summary_json(summary: ImageSummary) -> dict[str, Any]:
    return {
        key: (round(value, 4) if isinstance(value, float) else value)
        for key, value in vars(summary).items()
    }


def build_document(run: BenchmarkRun) -> dict[str, Any]:
    """Build the JSON document described in the README's "Benchmark JSON"."""
    return {
        "schema_version": SCHEMA_VERSION,
        "settings": vars(run.settings) | {"images": list(run.settings.images)},
        "scenarios": {
            name: SCENARIO_DESCRIPTIONS[name]
            for name in SCENARIO_ORDER
            if any(result.scenario == name for result in run.results)
        },
        "results": [result.to_json() for result in run.results],
        "summary": [_summary_json(summary) for summary in summarise(run)],
        "goals": [
            {
                "image": row.image,
                "goal": row.goal.key,
                "label": row.goal.label,
                "limit": row.goal.limit,
                "figures": {
                    mirror: None if value is None else round(value, 4)
                    for mirror, value in row.figures.items()
                },
                "met": {mirror: row.met(mirror) for mirror in row.figures},
            }
            for row in goal_rows(run)
        ],
        "checks": [check.to_json() for check in run.checks],
        "check_descriptions": {
            name: text
            for name, text in CHECK_DESCRIPTIONS.items()
            if any(check.check == name for check in run.checks)
        },
    }


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder, then rename it into place.

    A failure part-way leaves the old file, or no file, never a truncated one.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    # mkstemp creates the file as 0600; results are for everyone to read.
    umask = os.umask(0)
    os.umask(umask)
    Path(temporary).chmod(0o666 & ~umask)
    try:
        write(Path(temporary))
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_output_dir(directory: Path) -> None:
    """Raise UsageError unless files can be written into the output folder.

    The check creates the missing folders and a probe file, then removes what
    it created: a run that fails on other input must not leave an empty
    folder behind. `prepare_output_dir` creates the folder before writing.
    """
    target = directory.absolute()
    existing = target
    while not existing.exists():
        existing = existing.parent
    created = [target, *target.parents][: len(target.parents) - len(existing.parents)]
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target, prefix=".write-test."):
            pass
    except OSError as exc:
        reason = "is a file" if exc.errno == errno.EEXIST else exc.strerror
        msg = (
            f"output directory '{directory}' is not writable ({reason}); "
            "choose another with --output-dir"
        )
        raise UsageError(msg) from exc
    finally:
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()


def prepare_output_dir(directory: Path) -> None:
    """Create the output folder, or raise UsageError if that fails."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = (
            f"cannot create output directory '{directory}' ({exc.strerror}); "
            "choose another with --output-dir"
        )
        raise UsageError(msg) from exc


def write_json(run: BenchmarkRun, directory: Path) -> Path:
    """Write the JSON document into `directory` and return its path."""
    prepare_output_dir(directory)
    path = directory / JSON_NAME
    text = json.dumps(build_document(run), indent=2, sort_keys=False) + "\n"
    _write_atomically(path, lambda target: target.write_text(text, encoding="utf-8"))
    return path


def write_chart(run: BenchmarkRun, directory: Path) -> Path:
    """Draw median wall time per scenario, one group of bars per image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = list(
        dict.fromkeys(
            (result.scenario, result.mirror)
            for name in SCENARIO_ORDER
            for result in run.results
            if result.scenario == name
        )
    )
    images = list(run.settings.images)
    figure, axes = plt.subplots(figsize=(max(6.0, 2.2 * len(images) + 3), 4.5))
    width = 0.8 / max(1, len(series))
    for offset, (scenario, mirror) in enumerate(series):
        heights = []
        for image in images:
            result = run.result(scenario, image, mirror)
            heights.append(result.median_seconds if result else 0.0)
        positions = [index + offset * width for index in range(len(images))]
        label = scenario if mirror is None else f"{scenario} ({mirror})"
        axes.bar(positions, heights, width, label=label)
    axes.set_xticks([index + 0.4 - width / 2 for index in range(len(images))])
    axes.set_xticklabels(images, fontsize=8)
    axes.set_ylabel("median wall time (s)")
    axes.set_title(
        f"Pull time by scenario ({run.settings.rtt_ms:g} ms RTT, "
        f"{run.settings.bandwidth_mbit:g} Mbit/s to the Hub stand-in)"
    )
    axes.legend(fontsize=8)
    figure.tight_layout()

    path = directory / CHART_NAME
    _write_atomically(path, lambda target: figure.savefig(target, format="png"))
    plt.close(figure)
    return path
