"""The efficiency goals a mirror must meet, and each kind's figure beside them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from main.bench.model import BenchmarkRun
from main.bench.summary import ImageSummary, format_ratio, summarise


@dataclass(frozen=True)
class Goal:
    """A figure of `ImageSummary`, its limit, and how to read it."""

    key: str
    label: str
    limit: float
    figure: Callable[[ImageSummary], float | None]


def _counted_per_single(summary: ImageSummary) -> float | None:
    concurrent = summary.concurrent_counted_pulls
    single = summary.single_counted_pulls
    if concurrent is None or not single:
        return None
    return concurrent / single


GOALS = (
    Goal(
        "cold_upstream_over_image",
        "cold pull: upstream bytes / image",
        1.01,
        lambda s: s.cold_upstream_over_image,
    ),
    Goal(
        "cold_over_hub",
        "cold pull: time / pull without mirror",
        1.05,
        lambda s: s.cold_over_hub,
    ),
    Goal(
        "concurrent_upstream_over_image",
        "concurrent cold: upstream bytes / image",
        1.05,
        lambda s: s.concurrent_upstream_over_image,
    ),
    Goal(
        "concurrent_counted_per_single",
        "concurrent cold: counted pulls / one pull's",
        1.0,
        _counted_per_single,
    ),
    Goal(
        "concurrent_over_cold",
        "concurrent cold: time / one cold pull",
        1.2,
        lambda s: s.concurrent_over_cold,
    ),
    Goal(
        "warm_over_local",
        "warm pull: time / local registry",
        1.10,
        lambda s: s.warm_over_local,
    ),
)


@dataclass(frozen=True)
class GoalRow:
    """One goal for one image: the figure of each mirror kind and whether it met."""

    image: str
    goal: Goal
    figures: dict[str, float | None]

    def met(self, mirror: str) -> bool | None:
        figure = self.figures.get(mirror)
        return None if figure is None else figure <= self.goal.limit

    def cell(self, mirror: str) -> str:
        met = self.met(mirror)
        text = format_ratio(self.figures.get(mirror))
        if met is None:
            return text
        return f"{text} ok" if met else f"{text} MISSED"


def goal_rows(run: BenchmarkRun) -> list[GoalRow]:
    """Lay each goal beside every mirror kind's figure, image by image."""
    by_image: dict[str, dict[str, ImageSummary]] = {}
    for summary in summarise(run):
        by_image.setdefault(summary.image, {})[summary.mirror] = summary
    return [
        GoalRow(
            image,
            goal,
            {mirror: goal.figure(summary) for mirror, summary in summaries.items()},
        )
        for image, summaries in by_image.items()
        for goal in GOALS
    ]
