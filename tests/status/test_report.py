"""Tests of the status report's wording for counters, disk use and problems."""

from __future__ import annotations

from main.status.engine import EngineRoute
from main.status.registry import Listing, ProxyCounters
from main.status.report import MirrorStatus, StatusReport, format_status


def test_report_shows_counters_disk_and_routes() -> None:
    mirror = MirrorStatus(
        registry="docker.io",
        url="http://127.0.0.1:5000",
        size="50Gi",
        repositories=Listing(("library/python",)),
        tags={"library/python": Listing(tuple(f"3.{n}" for n in range(8)), False)},
        counters=ProxyCounters(requests=12, hits=9, misses=3, bytes_pulled=4096),
        disk_bytes=3 * 1024**3,
    )
    routes = [
        EngineRoute("docker.io", True, "through m:5000 (plain HTTP)"),
        EngineRoute(
            "ghcr.io", False, "not through its mirror: engine.json lists no mirror"
        ),
    ]

    lines = format_status(StatusReport([mirror], routes))

    assert lines == [
        "mirror for docker.io at http://127.0.0.1:5000:",
        "  repositories: 1",
        "    library/python (8+ tags upstream: 3.0, 3.1, 3.2, 3.3, 3.4, ...)",
        "  disk use: 3.00 GiB of 50Gi",
        "  served since start: 12 requests, 9 hits, 3 misses, 4096 bytes from upstream",
        "  gateway: unknown",
        "engine:",
        "  docker.io: ok: through m:5000 (plain HTTP)",
        "  ghcr.io: PROBLEM: not through its mirror: engine.json lists no mirror",
    ]


def test_report_shows_listing_error() -> None:
    mirror = MirrorStatus(
        registry="quay.io",
        url="http://127.0.0.1:5001",
        size="50Gi",
        repositories=Listing((), False, "GET ... answered 400 Bad Request"),
    )

    lines = format_status(StatusReport([mirror], None, "pass --kubeconfig"))

    assert lines[1] == "  repositories: unknown: GET ... answered 400 Bad Request"
    assert lines[-1] == "  not checked: pass --kubeconfig"


def test_report_cuts_long_repository_lists() -> None:
    names = tuple(f"team/app{index:02}" for index in range(25))
    mirror = MirrorStatus("ghcr.io", "http://x:5000", "50Gi", Listing(names))

    lines = format_status(StatusReport([mirror]))

    assert lines[1] == "  repositories: 25"
    assert lines[22] == "    ... and 5 more"
