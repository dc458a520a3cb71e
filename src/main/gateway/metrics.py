"""Prometheus metrics of the upstream gateway.

Every gateway has its own registry, so several gateways in one process (the
tests, the embedded stack) keep separate counts. Metric names start with
`registry_mirror_gateway_`; docs/gateway.md lists them.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "PREFIX", "GatewayMetrics"]

PREFIX = "registry_mirror_gateway"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# The `_created` series (a timestamp per counter) double the output and no
# dashboard here reads them. This setting applies to the whole process.
disable_created_metrics()  # type: ignore[no-untyped-call]


class GatewayMetrics:
    """Counters and gauges of one gateway, rendered in the Prometheus text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            f"{PREFIX}_requests",
            "Requests the gateway answered, by kind, method and outcome.",
            ["kind", "method", "outcome"],
            registry=self.registry,
        )
        self.upstream_requests = Counter(
            f"{PREFIX}_upstream_requests",
            "Requests sent to the upstream, by kind, method and HTTP status "
            "('error' when no response arrived).",
            ["kind", "method", "status"],
            registry=self.registry,
        )
        self.upstream_bytes = Counter(
            f"{PREFIX}_upstream_bytes",
            "Response body bytes received from the upstream.",
            registry=self.registry,
        )
        self.merged_requests = Counter(
            f"{PREFIX}_merged_requests",
            "Requests answered from another request's upstream response, by kind "
            "and source ('in_flight' while it streams, 'recent' after it ended).",
            ["kind", "source"],
            registry=self.registry,
        )
        self.counted_pulls = Counter(
            f"{PREFIX}_counted_pulls",
            "Manifest GET requests sent upstream; Docker Hub counts each as a pull.",
            registry=self.registry,
        )
        self.ratelimit_remaining = Gauge(
            f"{PREFIX}_ratelimit_remaining",
            "Last ratelimit-remaining value the upstream sent; -1 before any.",
            registry=self.registry,
        )
        self.ratelimit_limit = Gauge(
            f"{PREFIX}_ratelimit_limit",
            "Last ratelimit-limit value the upstream sent; -1 before any.",
            registry=self.registry,
        )
        self.known_tag_answers = Counter(
            f"{PREFIX}_known_tag_answers",
            "Tag lookups answered from the known-tags store, by the reason the "
            "upstream could not answer.",
            ["reason"],
            registry=self.registry,
        )
        self.digest_mismatches = Counter(
            f"{PREFIX}_digest_mismatches",
            "Upstream responses rejected because their digest or size was wrong.",
            registry=self.registry,
        )
        self.upstream_up = Gauge(
            f"{PREFIX}_upstream_up",
            "1 while the gateway sends requests upstream, 0 during a back-off "
            "after failures.",
            registry=self.registry,
        )
        self.spool_bytes = Gauge(
            f"{PREFIX}_spool_bytes",
            "Bytes in spool files of responses in flight or kept as recent.",
            registry=self.registry,
        )
        self.ratelimit_remaining.set(-1)
        self.ratelimit_limit.set(-1)
        self.upstream_up.set(1)

    def render(self) -> bytes:
        """Return every metric in the Prometheus text exposition format."""
        return generate_latest(self.registry)
