"""Benchmark results: the figures of one scenario and of a whole run.

These types are the benchmark's JSON contract (see the README section
"Benchmark JSON"): field names and units change only with `SCHEMA_VERSION`.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 2

LOCAL = "local"
HUB = "hub"
MIRROR_COLD = "mirror-cold"
MIRROR_WARM = "mirror-warm"
MIRROR_COLD_CONCURRENT = "mirror-cold-concurrent"
MIRROR_FIRST = "mirror-first"
MIRROR_WARM_CONCURRENT = "mirror-warm-concurrent"

SCENARIO_ORDER = (
    LOCAL,
    HUB,
    MIRROR_COLD,
    MIRROR_FIRST,
    MIRROR_WARM,
    MIRROR_COLD_CONCURRENT,
    MIRROR_WARM_CONCURRENT,
)

SCENARIO_DESCRIPTIONS = {
    LOCAL: "straight from the local upstream registry, no WAN (the physical limit)",
    HUB: "straight through the Docker Hub stand-in, no mirror",
    MIRROR_COLD: "through the mirror on empty storage",
    MIRROR_WARM: "through the mirror after a cold pull (median of the rounds)",
    MIRROR_COLD_CONCURRENT: "concurrent clients through the mirror on empty storage",
    MIRROR_FIRST: "first pull through a remote mirror in this run (cold if new)",
    MIRROR_WARM_CONCURRENT: "concurrent clients through a remote mirror, cached",
}


@dataclass(frozen=True)
class UpstreamUsage:
    """Upstream usage of one scenario, counted at the Docker Hub stand-in."""

    requests: int
    bytes: int
    counted_pulls: int
    remaining_quota: int | None


@dataclass(frozen=True)
class ScenarioResult:
    """Figures of one scenario for one image.

    `wall_seconds` contains one entry per round; the reported time is their median.
    `client_bytes` counts blob and manifest bytes that all clients received.
    """

    scenario: str
    image: str
    clients: int
    wall_seconds: tuple[float, ...]
    client_bytes: int
    image_bytes: int
    upstream: UpstreamUsage
    mirror: str | None = None

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.wall_seconds)

    @property
    def megabytes_per_second(self) -> float:
        """Client throughput in MB/s (10^6 bytes), from the median round."""
        if self.median_seconds <= 0:
            return 0.0
        return self.client_bytes / self.median_seconds / 1e6

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["wall_seconds"] = list(self.wall_seconds)
        data["median_seconds"] = round(self.median_seconds, 4)
        data["megabytes_per_second"] = round(self.megabytes_per_second, 2)
        return data


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one resilience check against one mirror kind."""

    check: str
    image: str
    mirror: str
    passed: bool
    seconds: float
    counted_pulls: int
    detail: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(frozen=True)
class BenchmarkSettings:
    """The inputs of a run, recorded next to its results."""

    images: tuple[str, ...]
    platform: str
    concurrency: int
    warm_rounds: int
    rtt_ms: float
    bandwidth_mbit: float
    mirrors: tuple[str, ...] = ("gateway",)
    distribution: str = "2.8.2 (Debian docker-registry)"


@dataclass
class BenchmarkRun:
    """All scenario results of one run, in the order they were measured."""

    settings: BenchmarkSettings
    results: list[ScenarioResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)

    def result(
        self, scenario: str, image: str, mirror: str | None = None
    ) -> ScenarioResult | None:
        """Find a result; `mirror` None matches the scenarios without a mirror."""
        for result in self.results:
            if (result.scenario, result.image) != (scenario, image):
                continue
            if result.mirror is None or result.mirror == mirror:
                return result
        return None
