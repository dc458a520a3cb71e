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
    """The headline ratios for one image and mirror kind; None where not measured.

    `concurrent_counted_pulls` and `single_counted_pulls` compare the counted
    pulls of all concurrent clients with those of one pull without a mirror.
    """

    image: str
    mirror: str
    warm_over_local: float | None
    cold_over_warm: float | None
    hub_over_warm: float | None
    cold_over_hub: float | None
    concurrent_over_cold: float | None
    cold_upstream_over_image: float | None
    concurrent_upstream_over_image: float | None
    concurrent_counted_pulls: int | None
    single_counted_pulls: int | None


def _time_ratio(
    run: BenchmarkRun, image: str, mirror: str, top: str, bottom: str
) -> float | None:
    numerator = run.result(top, image, mirror)
    denominator = run.result(bottom, image, mirror)
    if numerator is None or denominator is None or denominator.median_seconds <= 0:
        return None
    return numerator.median_seconds / denominator.median_seconds


def _upstream_over_image(
    run: BenchmarkRun, image: str, mirror: str, scenario: str
) -> float | None:
    result = run.result(scenario, image, mirror)
    if result is None or result.image_bytes <= 0:
        return None
    return result.upstream.bytes / result.image_bytes


def summarise_image(run: BenchmarkRun, image: str, mirror: str) -> ImageSummary:
    """Compute the ratios of one image and mirror kind from the results in `run`."""
    concurrent = run.result(MIRROR_COLD_CONCURRENT, image, mirror)
    hub = run.result(HUB, image, mirror)
    return ImageSummary(
        image=image,
        mirror=mirror,
        warm_over_local=_time_ratio(run, image, mirror, MIRROR_WARM, LOCAL),
        cold_over_warm=_time_ratio(run, image, mirror, MIRROR_COLD, MIRROR_WARM),
        hub_over_warm=_time_ratio(run, image, mirror, HUB, MIRROR_WARM),
        cold_over_hub=_time_ratio(run, image, mirror, MIRROR_COLD, HUB),
        concurrent_over_cold=_time_ratio(
            run, image, mirror, MIRROR_COLD_CONCURRENT, MIRROR_COLD
        ),
        cold_upstream_over_image=_upstream_over_image(run, image, mirror, MIRROR_COLD),
        concurrent_upstream_over_image=_upstream_over_image(
            run, image, mirror, MIRROR_COLD_CONCURRENT
        ),
        concurrent_counted_pulls=(
            concurrent.upstream.counted_pulls if concurrent else None
        ),
        single_counted_pulls=hub.upstream.counted_pulls if hub else None,
    )


def summarise(run: BenchmarkRun) -> list[ImageSummary]:
    """Compute the ratios of every image and mirror kind, in the order given."""
    return [
        summarise_image(run, image, mirror)
        for image in run.settings.images
        for mirror in run.settings.mirrors
    ]


def format_ratio(value: float | None) -> str:
    """Format a ratio with two decimals, or n/a when it was not measured."""
    return "n/a" if value is None else f"{value:.2f}"


def summary_line(summary: ImageSummary, concurrency: int) -> str:
    """Format one image's ratios as the single line the CLI prints last."""
    return (
        f"{summary.image} via {summary.mirror} mirror: "
        f"warm/local-limit {format_ratio(summary.warm_over_local)}"
        f", cold/warm {format_ratio(summary.cold_over_warm)}"
        f", no-mirror/warm {format_ratio(summary.hub_over_warm)}"
        f", upstream/image bytes: cold "
        f"{format_ratio(summary.cold_upstream_over_image)}"
        f", {concurrency} concurrent "
        f"{format_ratio(summary.concurrent_upstream_over_image)}"
    )
