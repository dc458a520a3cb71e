"""Read a gateway's Prometheus metrics into the figures that `status` prints.

The gateway serves its metrics at `/metrics` on its own port (docs/gateway.md
lists them). Counters with labels are summed over the labels that `status`
does not show.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from main.errors import RegistryError

__all__ = ["GatewayFigures", "parse_gateway_metrics", "read_gateway_metrics"]

logger = logging.getLogger(__name__)

_PREFIX = "registry_mirror_gateway_"
_METRICS_PATH = "/metrics"


@dataclass(frozen=True)
class GatewayFigures:
    """A gateway's counters since it started, and its last upstream state.

    `answered` counts the requests it responded to, by outcome (`ok`,
    `error`, `refused`, `known_tag`). `merged` counts requests served from
    another request's upstream response, by source (`in_flight`, `recent`).
    `upstream_errors` counts upstream requests that got no response. The rate
    limit values are None until the upstream sent one.
    """

    answered: Mapping[str, int] = field(default_factory=dict)
    merged: Mapping[str, int] = field(default_factory=dict)
    upstream_requests: int = 0
    upstream_errors: int = 0
    upstream_bytes: int = 0
    counted_pulls: int = 0
    digest_mismatches: int = 0
    ratelimit_remaining: int | None = None
    ratelimit_limit: int | None = None
    upstream_up: bool = True


def parse_gateway_metrics(text: str) -> GatewayFigures:
    """Build the figures from the gateway's metrics in the Prometheus text format.

    Raises ValueError when the text is not in that format.
    """
    samples = list(_samples(text_string_to_metric_families(text)))
    upstream = [s for s in samples if s.name == f"{_PREFIX}upstream_requests_total"]
    return GatewayFigures(
        answered=_by_label(samples, "requests_total", "outcome"),
        merged=_by_label(samples, "merged_requests_total", "source"),
        upstream_requests=_total(upstream),
        upstream_errors=_total(s for s in upstream if s.labels["status"] == "error"),
        upstream_bytes=_sum(samples, "upstream_bytes_total"),
        counted_pulls=_sum(samples, "counted_pulls_total"),
        digest_mismatches=_sum(samples, "digest_mismatches_total"),
        ratelimit_remaining=_known(samples, "ratelimit_remaining"),
        ratelimit_limit=_known(samples, "ratelimit_limit"),
        upstream_up=_sum(samples, "upstream_up") != 0,
    )


async def read_gateway_metrics(
    client: httpx.AsyncClient, gateway_url: str
) -> GatewayFigures:
    """GET the metrics of the gateway at `gateway_url` and parse them.

    Raises RegistryError when the gateway cannot be reached, returns an
    error status or returns something other than Prometheus text.
    """
    url = f"{gateway_url.rstrip('/')}{_METRICS_PATH}"
    logger.info("GET %s", url)
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        msg = f"GET {url} failed: {exc.__class__.__name__}: {exc}"
        raise RegistryError(msg, url=url) from exc
    if response.status_code != 200:
        msg = f"GET {url} answered {response.status_code} {response.reason_phrase}"
        raise RegistryError(msg, url=url, status=response.status_code)
    try:
        return parse_gateway_metrics(response.text)
    except ValueError as exc:
        msg = f"GET {url} did not return Prometheus metrics: {exc}"
        raise RegistryError(msg, url=url) from exc


def _samples(families: Iterable[Metric]) -> Iterable[Sample]:
    for family in families:
        yield from family.samples


def _matching(samples: Iterable[Sample], name: str) -> list[Sample]:
    return [sample for sample in samples if sample.name == f"{_PREFIX}{name}"]


def _total(samples: Iterable[Sample]) -> int:
    return int(sum(sample.value for sample in samples))


def _sum(samples: Iterable[Sample], name: str) -> int:
    return _total(_matching(samples, name))


def _by_label(samples: Iterable[Sample], name: str, label: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sample in _matching(samples, name):
        key = sample.labels.get(label, "")
        counts[key] = counts.get(key, 0) + int(sample.value)
    return dict(sorted(counts.items()))


def _known(samples: Iterable[Sample], name: str) -> int | None:
    """Return a gauge's value, or None while it holds the gateway's -1 for unknown."""
    found = _matching(samples, name)
    if not found or found[0].value < 0:
        return None
    return int(found[0].value)
