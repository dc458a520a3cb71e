"""`registry-mirror benchmark`: cold vs warm pulls on the embedded default."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from main.bench.model import BenchmarkRun
from main.bench.report import check_output_dir, write_chart, write_json
from main.bench.runner import (
    DEFAULT_REMOTE_IMAGE,
    BenchmarkConfig,
    run_benchmark,
    run_remote_benchmark,
    select_images,
)
from main.bench.summary import summarise, summary_line
from main.bench.tables import build_check_table, build_goal_table, build_table
from main.cli.app import app
from main.cli.options import (
    BANDWIDTH_OPTION,
    HUB_PORT_OPTION,
    IMAGE_CACHE_OPTION,
    IMAGE_OPTION,
    MIRROR_PORT_OPTION,
    RATE_LIMIT_OPTION,
    RTT_OPTION,
    UPSTREAM_PORT_OPTION,
    build_stack_options,
    parse_mirror_kinds,
    progress_printer,
)
from main.cli.signals import run_until_signal
from main.errors import UsageError
from main.oci.platform import parse_platform


@app.command()
def benchmark(
    image: list[str] = IMAGE_OPTION,
    concurrency: int = typer.Option(
        8, min=1, max=64, help="Clients pulling at once in the concurrent scenario."
    ),
    warm_rounds: int = typer.Option(
        3, min=1, max=50, help="Warm pulls measured; the table shows their median."
    ),
    platform: str = typer.Option(
        "linux/amd64", help="Platform pulled from each multi-platform image."
    ),
    rtt_ms: float = RTT_OPTION,
    bandwidth_mbit: float = BANDWIDTH_OPTION,
    rate_limit: int = RATE_LIMIT_OPTION,
    output_dir: Path = typer.Option(
        Path("benchmark-results"),
        help="Folder for benchmark.json and benchmark.png (created if missing).",
    ),
    upstream_port: int | None = UPSTREAM_PORT_OPTION,
    hub_port: int | None = HUB_PORT_OPTION,
    mirror_port: int | None = MIRROR_PORT_OPTION,
    image_cache: Path | None = IMAGE_CACHE_OPTION,
    mirror_kind: list[str] = typer.Option(
        [],
        help="Mirror to measure: plain (distribution alone) or gateway "
        "(distribution behind this project's upstream gateway); repeat. "
        "Default: both, side by side.",
    ),
    checks: bool = typer.Option(
        True, help="Run the resilience checks (upstream down, hung, 429)."
    ),
    mirror: str | None = typer.Option(
        None,
        help="URL of a running mirror to measure instead of the embedded stack, "
        "such as http://mirror-docker-io.registry-mirror.svc.cluster.local:5000.",
    ),
    upstream: str | None = typer.Option(
        None,
        help="With --mirror: the upstream to compare with "
        "(default: the image's registry, https://registry-1.docker.io for Hub).",
    ),
    metrics_url: str | None = typer.Option(
        None,
        help="With --mirror: the gateway's /metrics URL, to count upstream "
        "requests, bytes and counted pulls.",
    ),
) -> None:
    """Measure pulls straight from upstream vs cold and warm through the mirror."""
    # Check every input before a server starts or an image is built.
    check_output_dir(output_dir)
    if mirror is None and (upstream is not None or metrics_url is not None):
        msg = (
            "--upstream and --metrics-url apply only to a running mirror; "
            "add --mirror URL, or drop them to benchmark the embedded stack"
        )
        raise UsageError(msg)
    if mirror is not None:
        run = run_until_signal(
            lambda: run_remote_benchmark(
                mirror,
                upstream,
                metrics_url,
                image or [DEFAULT_REMOTE_IMAGE],
                platform=parse_platform(platform),
                concurrency=concurrency,
                warm_rounds=warm_rounds,
            )
        )
        _print_and_write(run, output_dir, concurrency)
        return
    config = BenchmarkConfig(
        images=select_images(image),
        platform=parse_platform(platform),
        concurrency=concurrency,
        warm_rounds=warm_rounds,
        stack=build_stack_options(
            rtt_ms=rtt_ms,
            bandwidth_mbit=bandwidth_mbit,
            rate_limit=rate_limit,
            upstream_port=upstream_port,
            hub_port=hub_port,
            mirror_port=mirror_port,
            mirror_kinds=parse_mirror_kinds(mirror_kind),
        ),
        image_cache=image_cache,
        checks=checks,
    )
    errors = Console(stderr=True)

    run = run_until_signal(
        lambda: run_benchmark(config, progress=progress_printer(errors))
    )

    _print_and_write(run, output_dir, concurrency)


def _print_and_write(run: BenchmarkRun, output_dir: Path, concurrency: int) -> None:
    console = Console()
    if not console.is_terminal:
        # Logs and pipes get the whole table instead of an 80-column squeeze.
        console.width = 160

    console.print(build_table(run))
    console.print(build_goal_table(run))
    if run.checks:
        console.print(build_check_table(run))
    json_path = write_json(run, output_dir)
    chart_path = write_chart(run, output_dir)
    for summary in summarise(run):
        console.print(summary_line(summary, concurrency), soft_wrap=True)
    console.print(f"wrote {json_path} and {chart_path}", soft_wrap=True)
