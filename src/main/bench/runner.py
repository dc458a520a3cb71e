"""Run the benchmark on the embedded default: build, seed, measure, report."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from main.bench.checks import CheckContext, run_checks
from main.bench.model import BenchmarkRun, BenchmarkSettings, ScenarioResult
from main.bench.remote import (
    RemoteTarget,
    check_remote_urls,
    run_remote,
    upstream_url_for,
)
from main.bench.scenarios import (
    PullImage,
    ScenarioPlan,
    run_baseline,
    run_mirror_scenarios,
)
from main.errors import UsageError
from main.oci.auth import RegistryTokenAuth
from main.oci.client import PullResult, RegistryClient, new_http_client
from main.oci.platform import Platform
from main.oci.push import push_layout
from main.reference import normalize_base_url, parse_reference
from main.stack.embedded import EmbeddedStack, StackOptions, run_embedded_stack
from main.stack.images import DEFAULT_IMAGES, BuildStep, ImageSpec, ensure_image

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchmarkConfig:
    """Everything a benchmark run on the embedded default needs."""

    images: tuple[ImageSpec, ...]
    platform: Platform
    concurrency: int
    warm_rounds: int
    stack: StackOptions
    image_cache: Path | None = None
    checks: bool = True


def select_images(requested: Sequence[str]) -> tuple[ImageSpec, ...]:
    """Map user image names to the embedded images; all of them when none given.

    Names are normalised like Docker's (`debian:bookworm-slim` is
    `library/debian:bookworm-slim`), so both spellings work.
    """
    if not requested:
        return DEFAULT_IMAGES
    by_name = {spec.reference: spec for spec in DEFAULT_IMAGES}
    chosen: list[ImageSpec] = []
    for text in requested:
        reference = parse_reference(text)
        name = f"{reference.repository}:{reference.reference}"
        if reference.registry != "docker.io" or name not in by_name:
            known = ", ".join(sorted(by_name))
            msg = (
                f"image '{text}' is not in the embedded upstream; "
                f"choose one of: {known}"
            )
            raise UsageError(msg)
        if by_name[name] not in chosen:
            chosen.append(by_name[name])
    return tuple(chosen)


async def seed_upstream(
    http: httpx.AsyncClient,
    stack: EmbeddedStack,
    images: Sequence[ImageSpec],
    cache_dir: Path | None,
    progress: Callable[[BuildStep], None] | None,
) -> None:
    """Build (or reuse) each image and push it into the upstream registry."""
    for spec in images:
        layout = await ensure_image(spec, cache_dir, progress)
        await push_layout(http, stack.local_url, layout.path, spec.repository, spec.tag)
        logger.info("seeded %s into %s", spec.reference, stack.local_url)


def make_puller(http: httpx.AsyncClient, platform: Platform) -> PullImage:
    """Return a pull function that uses one shared client and token cache."""
    auth = RegistryTokenAuth()

    async def pull(base_url: str, image: str) -> PullResult:
        client = RegistryClient(http, base_url, auth=auth)
        return await client.pull(parse_reference(image), platform)

    return pull


async def _measure_image(
    stack: EmbeddedStack,
    pull: PullImage,
    config: BenchmarkConfig,
    spec: ImageSpec,
) -> list[ScenarioResult]:
    plan = ScenarioPlan(
        image=spec.reference,
        concurrency=config.concurrency,
        warm_rounds=config.warm_rounds,
    )
    first_kind = config.stack.mirror_kinds[0]
    results = await run_baseline(stack.target(first_kind), pull, plan)
    image_bytes = results[0].client_bytes
    for kind in config.stack.mirror_kinds:
        results += await run_mirror_scenarios(
            stack.target(kind), pull, plan, mirror=kind, image_bytes=image_bytes
        )
    return results


async def run_benchmark(
    config: BenchmarkConfig,
    progress: Callable[[BuildStep], None] | None = None,
) -> BenchmarkRun:
    """Start the embedded stack, seed it, and measure every scenario per image.

    The resilience checks run once, on the first image, for each mirror kind.
    """
    settings = BenchmarkSettings(
        images=tuple(spec.reference for spec in config.images),
        platform=str(config.platform),
        concurrency=config.concurrency,
        warm_rounds=config.warm_rounds,
        rtt_ms=config.stack.hub.wan.rtt_ms,
        bandwidth_mbit=config.stack.hub.wan.bandwidth_mbit,
        mirrors=config.stack.mirror_kinds,
    )
    run = BenchmarkRun(settings)
    async with (
        run_embedded_stack(config.stack) as stack,
        new_http_client() as http,
    ):
        await seed_upstream(http, stack, config.images, config.image_cache, progress)
        pull = make_puller(http, config.platform)
        for spec in config.images:
            await stack.reset_upstream()
            run.results.extend(await _measure_image(stack, pull, config, spec))
        if config.checks:
            for kind in config.stack.mirror_kinds:
                await stack.reset_upstream()
                context = CheckContext(
                    stack,
                    kind,
                    http,
                    config.images[0].reference,
                    cached=config.platform,
                    uncached=other_platform(config.platform),
                )
                run.checks.extend(await run_checks(context))
    return run


def other_platform(platform: Platform) -> Platform:
    """Return the embedded images' other platform, which checks use uncached."""
    if platform.architecture == "amd64":
        return Platform("linux", "arm64", "v8")
    return Platform("linux", "amd64")


DEFAULT_REMOTE_IMAGE = "docker.io/library/debian:bookworm-slim"


async def run_remote_benchmark(
    mirror: str,
    upstream: str | None,
    metrics_url: str | None,
    images: Sequence[str],
    *,
    platform: Platform,
    concurrency: int,
    warm_rounds: int,
) -> BenchmarkRun:
    """Measure a running mirror against its upstream; see `main.bench.remote`."""
    mirror_url, checked_metrics = check_remote_urls(mirror, metrics_url)
    references = [str(parse_reference(text)) for text in images]
    upstream_url = normalize_base_url(upstream or upstream_url_for(references[0]))
    async with new_http_client() as http:
        target = RemoteTarget(http, mirror_url, upstream_url, checked_metrics)
        return await run_remote(
            target,
            make_puller(http, platform),
            references,
            platform=platform,
            concurrency=concurrency,
            warm_rounds=warm_rounds,
        )
