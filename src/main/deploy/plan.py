"""Decide what a deploy changes: create, update, leave unchanged or prune.

Pure: it compares rendered objects with the live state that the caller read
from the cluster and never talks to the cluster itself.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from main.deploy.fields import changed_fields, owned_fields_removed
from main.deploy.objects import (
    MANAGED_BY,
    KubeObject,
    ObjectKey,
    sort_for_apply,
    sort_for_prune,
)

__all__ = ["Action", "Change", "Plan", "compute_plan", "format_plan"]

FIELD_MANAGER = MANAGED_BY

# Field paths shown per updated object before the list is cut short.
_SHOWN_FIELDS_MAX = 5


class Action(enum.StrEnum):
    """Action of a deploy on one object."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    PRUNE = "prune"
    KEEP = "keep"
    """Left in place although no longer rendered; the user deletes it by hand."""


@dataclass(frozen=True)
class Change:
    """One object and what the deploy does to it.

    `obj` is the rendered object, or the live one for PRUNE and KEEP. `fields`
    lists the paths that differ for UPDATE.
    """

    action: Action
    obj: KubeObject
    fields: tuple[str, ...] = ()

    @property
    def key(self) -> ObjectKey:
        """Key of the object."""
        return self.obj.key


@dataclass(frozen=True)
class Plan:
    """Every change of one deploy, rendered objects in apply order, then prunes."""

    changes: tuple[Change, ...] = field(default=())

    def with_action(self, action: Action) -> list[Change]:
        """Return the changes with one action, in plan order."""
        return [change for change in self.changes if change.action is action]

    @property
    def to_apply(self) -> list[KubeObject]:
        """Rendered objects to create or update, in apply order."""
        return [
            change.obj
            for change in self.changes
            if change.action in {Action.CREATE, Action.UPDATE}
        ]

    @property
    def to_prune(self) -> list[KubeObject]:
        """Live objects to delete, in delete order."""
        return [change.obj for change in self.with_action(Action.PRUNE)]

    @property
    def has_changes(self) -> bool:
        """Whether applying the plan would change the cluster."""
        return bool(self.to_apply or self.to_prune)


def compute_plan(
    rendered: Sequence[KubeObject],
    live: Mapping[ObjectKey, Mapping[str, Any]],
    managed: Iterable[KubeObject],
) -> Plan:
    """Compare rendered objects with the cluster.

    `live` contains the current body of each rendered object that exists.
    `managed` contains every live object labelled as managed by this tool; those
    that are no longer rendered are pruned, except Namespaces, which are kept
    because deleting one deletes everything in it, whoever created it.
    """
    changes = [_change_for(obj, live.get(obj.key)) for obj in sort_for_apply(rendered)]

    rendered_keys = {obj.key for obj in rendered}
    leftovers = [obj for obj in managed if obj.key not in rendered_keys]
    for obj in sort_for_prune(leftovers):
        action = Action.KEEP if obj.key.kind == "Namespace" else Action.PRUNE
        changes.append(Change(action, obj))
    return Plan(tuple(changes))


def _change_for(obj: KubeObject, live: Mapping[str, Any] | None) -> Change:
    if live is None:
        return Change(Action.CREATE, obj)
    differences = changed_fields(obj.body, live)
    differences += owned_fields_removed(obj.body, live, FIELD_MANAGER)
    if not differences:
        return Change(Action.UNCHANGED, obj)
    return Change(Action.UPDATE, obj, tuple(dict.fromkeys(differences)))


def format_plan(plan: Plan) -> list[str]:
    """Describe the plan in lines: a summary, then one line per change.

    Unchanged objects are counted in the summary but not listed.
    """
    counts = {action: len(plan.with_action(action)) for action in Action}
    if not plan.has_changes:
        lines = [f"no changes: all {counts[Action.UNCHANGED]} objects are up to date"]
    else:
        summary = ", ".join(
            f"{counts[action]} to {action.value}"
            for action in (Action.CREATE, Action.UPDATE, Action.PRUNE)
        )
        lines = [f"plan: {summary}, {counts[Action.UNCHANGED]} unchanged"]
    for change in plan.changes:
        if change.action is not Action.UNCHANGED:
            lines.append(_describe(change))
    return lines


def _describe(change: Change) -> str:
    line = f"  {change.action.value:<7} {change.key}"
    if change.action is Action.UPDATE:
        shown = [path.lstrip(".") for path in change.fields[:_SHOWN_FIELDS_MAX]]
        more = len(change.fields) - len(shown)
        if more > 0:
            shown.append(f"{more} more")
        line += f" ({', '.join(shown)})"
    elif change.action is Action.KEEP:
        line += (
            " (no longer rendered; left in place because deleting a namespace "
            f"deletes everything in it: kubectl delete namespace {change.key.name})"
        )
    return line
