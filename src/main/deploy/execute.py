"""Deploy rendered manifests: plan against the live cluster, apply, prune, wait.

The plan comes first and is printed before anything changes. A dry run stops
after it, once the API server has validated the plan with a server-side dry
run. When the cluster cannot be reached, a dry run still prints the plan
against an empty cluster and states that the API server validated nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping

import anyio

from main.deploy.kubectl import Kubectl
from main.deploy.objects import PRUNABLE_KINDS, KubeObject, objects_from_manifests
from main.deploy.plan import Plan, compute_plan, format_plan
from main.errors import ClusterError

__all__ = ["DEFAULT_ROLLOUT_TIMEOUT", "run_deploy"]

logger = logging.getLogger(__name__)

DEFAULT_ROLLOUT_TIMEOUT = 300.0
"""Seconds each workload may take to roll out; an engine with a big cache needs it."""


async def run_deploy(
    manifests: Mapping[str, str],
    kubectl: Kubectl,
    *,
    dry_run: bool,
    rollout_timeout: float = DEFAULT_ROLLOUT_TIMEOUT,
    no_wait: Collection[str] = (),
    echo: Callable[[str], None] = print,
) -> Plan:
    """Deploy `manifests` (file name to YAML) and return the plan that was carried out.

    Workloads named in `no_wait` are applied but not waited for: a deploy that
    runs inside the Dagger engine cannot wait for that engine's own restart,
    because the restart ends the deploy's session.

    Raises ClusterError when the cluster cannot be reached (except for a dry
    run), rejects an object, or a rollout does not finish in time.
    """
    rendered = objects_from_manifests(manifests)
    reason = await kubectl.unreachable_reason()
    if reason is not None:
        if not dry_run:
            msg = f"cannot reach the cluster: {reason}"
            raise ClusterError(msg)
        echo(f"cluster not reachable ({reason})")
        echo("dry run against an empty cluster: the API server validated nothing")
        plan = compute_plan(rendered, {}, [])
        _echo_lines(format_plan(plan), echo)
        return plan

    plan = await _plan(rendered, kubectl)
    _echo_lines(format_plan(plan), echo)
    if dry_run:
        await _validate(plan, kubectl)
        echo("dry run: the API server accepted every change; nothing was changed")
        return plan

    if plan.to_apply:
        _echo_lines(
            (await kubectl.apply(plan.to_apply, dry_run=False)).splitlines(), echo
        )
    for obj in plan.to_prune:
        await kubectl.delete(obj, dry_run=False)
        echo(f"pruned {obj.key}")
    workloads = [obj for obj in rendered if obj.rolls_out]
    for obj in workloads:
        if obj.key.name in no_wait:
            echo(
                f"not waiting for {obj.key}; check it with `kubectl rollout status "
                f"{obj.key.resource} --namespace={obj.key.namespace}`"
            )
    waited = [obj for obj in workloads if obj.key.name not in no_wait]
    await _wait_for_rollouts(waited, kubectl, rollout_timeout, echo)
    return plan


async def _plan(rendered: list[KubeObject], kubectl: Kubectl) -> Plan:
    live = await kubectl.get_live(rendered)
    kinds = list(dict.fromkeys([*PRUNABLE_KINDS, *(obj.key.kind for obj in rendered)]))
    managed = await kubectl.list_managed(kinds)
    return compute_plan(rendered, live, managed)


async def _validate(plan: Plan, kubectl: Kubectl) -> None:
    if plan.to_apply:
        await kubectl.apply(plan.to_apply, dry_run=True)
    for obj in plan.to_prune:
        await kubectl.delete(obj, dry_run=True)


async def _wait_for_rollouts(
    workloads: list[KubeObject],
    kubectl: Kubectl,
    rollout_timeout: float,
    echo: Callable[[str], None],
) -> None:
    """Wait for every rendered workload at once, so the waits do not add up.

    Failures are collected and raised as one ClusterError after all waits end,
    so that the message names every workload that did not roll out.
    """
    failures: list[str] = []

    async def wait(obj: KubeObject) -> None:
        try:
            await kubectl.rollout_status(obj, rollout_timeout)
        except ClusterError as exc:
            failures.append(f"{obj.key}: {exc}")
            return
        echo(f"rolled out {obj.key}")

    async with anyio.create_task_group() as group:
        for obj in workloads:
            group.start_soon(wait, obj)
    if failures:
        msg = (
            f"{len(failures)} of {len(workloads)} workloads did not roll out "
            f"within {rollout_timeout:g}s; see `kubectl describe` for each: "
            + "; ".join(sorted(failures))
        )
        raise ClusterError(msg)


def _echo_lines(lines: list[str], echo: Callable[[str], None]) -> None:
    for line in lines:
        if line.strip():
            echo(line)
