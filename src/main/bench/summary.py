"""Ratios that summarise a benchmark run, computed from results of the same run."""

from __future__ import annotations

from dataclasses import dataclass

from main.bench.model import (
    HUB,
    LOCAL,
    MIRROR_COLD,
    MIRROR_COLD_CONCURRENT,
    MIRROR_WARM,
    BenchmarkRun,
)


@dataclass(frozen=True)
class ImageSummary:
    """The headline ratios for one image; None where a scenario did not run."""

    image: str
    warm_over_local: float | None
    cold_over_warm: float | None
    hub_over_warm: float | None
    cold_upstream_over_image: float | None
    concurrent_upstream_over_image: float | None
    concurrent_counted_pulls: int | None


def _time_ratio(run: BenchmarkRun, image: str, top: str, bottom: str) -> float | None:
    numerator = run.result(top, image)
    denominator = run.result(bottom, image)
    if numerator is None or denominator is None or denominator.median_seconds <= 0:
        return None
    return numerator.median_seconds / denominator.median_seconds


def _upstream_over_image(run: BenchmarkRun, image: str, scenario: str) -> float | None:
    result = run.result(scenario, image)
    if result is None or result.image_bytes <= 0:
        return None
    return result.upstream.bytes / result.image_bytes


def summarise_image(run: BenchmarkRun, image: str) -> ImageSummary:
    """Compute the ratios of one image from the scenarios measured in `run`."""
    concurrent = run.result(MIRROR_COLD_CONCURRENT, image)
    return ImageSummary(
        image=image,
        warm_over_local=_time_ratio(run, image, MIRROR_WARM, LOCAL),
        cold_over_warm=_time_ratio(run, image, MIRROR_COLD, MIRROR_WARM),
        hub_over_warm=_time_ratio(run, image, HUB, MIRROR_WARM),
        cold_upstream_over_image=_upstream_over_image(run, image, MIRROR_COLD),
        concurrent_upstream_over_image=_upstream_over_image(
            run, image, MIRROR_COLD_CONCURRENT
        ),
        concurrent_counted_pulls=(
            concurrent.upstream.counted_pulls if concurrent else None
        ),
    )


def summarise(run: BenchmarkRun) -> list[ImageSummary]:
    """Compute the ratios of every image, in the order the images were given."""
    return [summarise_image(run, image) for image in run.settings.images]


def _format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def summary_line(summary: ImageSummary, concurrency: int) -> str:
    """Format one image's ratios as the single line the CLI prints last."""
    return (
        f"{summary.image}: warm/local-limit {_format_ratio(summary.warm_over_local)}"
        f", cold/warm {_format_ratio(summary.cold_over_warm)}"
        f", no-mirror/warm {_format_ratio(summary.hub_over_warm)}"
        f", upstream/image bytes: cold "
        f"{_format_ratio(summary.cold_upstream_over_image)}"
        f", {concurrency} concurrent "
        f"{_format_ratio(summary.concurrent_upstream_over_image)}"
    )
