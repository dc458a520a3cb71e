"""Tests of the deploy plan for a first run, a second run and changed settings."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from main.deploy import (
    Action,
    KubeObject,
    ObjectKey,
    compute_plan,
    format_plan,
    objects_from_manifests,
)
from main.errors import UsageError


def test_first_run_creates_everything(rendered: list[KubeObject]) -> None:
    plan = compute_plan(rendered, live={}, managed=[])

    assert [change.action for change in plan.changes] == [Action.CREATE] * 5
    assert plan.to_apply == rendered
    assert plan.to_prune == []


def test_first_run_applies_in_dependency_order(rendered: list[KubeObject]) -> None:
    plan = compute_plan(list(reversed(rendered)), live={}, managed=[])

    kinds = [obj.key.kind for obj in plan.to_apply]
    assert kinds == [
        "Namespace",
        "ConfigMap",
        "PersistentVolumeClaim",
        "Service",
        "Deployment",
    ]


def test_first_run_summary_counts_creates(rendered: list[KubeObject]) -> None:
    plan = compute_plan(rendered, live={}, managed=[])

    lines = format_plan(plan)

    assert lines[0] == "plan: 5 to create, 0 to update, 0 to prune, 0 unchanged"
    assert lines[1] == "  create  Namespace registry-mirror"
    assert len(lines) == 6


def test_second_run_has_no_changes(
    rendered: list[KubeObject], live_after_apply: dict[ObjectKey, dict[str, Any]]
) -> None:
    managed = [KubeObject.from_body(body) for body in live_after_apply.values()]

    plan = compute_plan(rendered, live_after_apply, managed)

    assert not plan.has_changes
    assert plan.with_action(Action.UNCHANGED) == list(plan.changes)
    assert format_plan(plan) == ["no changes: all 5 objects are up to date"]


def test_changed_image_is_an_update(
    rendered: list[KubeObject], live_after_apply: dict[ObjectKey, dict[str, Any]]
) -> None:
    deployment = _find(rendered, "Deployment")
    body = copy.deepcopy(dict(deployment.body))
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "registry:3.1.2"
    changed = [
        KubeObject.from_body(body) if obj is deployment else obj for obj in rendered
    ]

    plan = compute_plan(changed, live_after_apply, [])

    updates = plan.with_action(Action.UPDATE)
    assert [change.key.kind for change in updates] == ["Deployment"]
    assert updates[0].fields == (".spec.template.spec.containers[name=registry].image",)


def test_removed_field_is_an_update(
    rendered: list[KubeObject], live_after_apply: dict[ObjectKey, dict[str, Any]]
) -> None:
    deployment = _find(rendered, "Deployment")
    body = copy.deepcopy(dict(deployment.body))
    del body["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    changed = [
        KubeObject.from_body(body) if obj is deployment else obj for obj in rendered
    ]

    plan = compute_plan(changed, live_after_apply, [])

    updates = plan.with_action(Action.UPDATE)
    assert len(updates) == 1
    assert updates[0].fields == (
        ".spec.template.spec.containers[name=registry].resources.limits",
    )


def test_field_owned_by_another_manager_is_not_removed(
    rendered: list[KubeObject], live_after_apply: dict[ObjectKey, dict[str, Any]]
) -> None:
    pvc = next(key for key in live_after_apply if key.kind == "PersistentVolumeClaim")
    live_after_apply[pvc]["metadata"]["annotations"]["note"] = "added by a person"

    plan = compute_plan(rendered, live_after_apply, [])

    assert not plan.has_changes


def test_leftovers_are_pruned_but_namespaces_kept(
    rendered: list[KubeObject],
    live_after_apply: dict[ObjectKey, dict[str, Any]],
    leftovers: list[KubeObject],
) -> None:
    managed = [KubeObject.from_body(b) for b in live_after_apply.values()] + leftovers

    plan = compute_plan(rendered, live_after_apply, managed)

    assert [str(obj.key) for obj in plan.to_prune] == [
        "ConfigMap registry-mirror/mirror-ghcr-io"
    ]
    assert [str(c.key) for c in plan.with_action(Action.KEEP)] == [
        "Namespace old-mirrors"
    ]


def test_plan_lines_explain_kept_namespace(
    rendered: list[KubeObject],
    live_after_apply: dict[ObjectKey, dict[str, Any]],
    leftovers: list[KubeObject],
) -> None:
    plan = compute_plan(rendered, live_after_apply, leftovers)

    lines = format_plan(plan)

    assert lines[0] == "plan: 0 to create, 0 to update, 1 to prune, 5 unchanged"
    assert lines[1] == "  prune   ConfigMap registry-mirror/mirror-ghcr-io"
    assert "kubectl delete namespace old-mirrors" in lines[2]


def test_update_lists_every_changed_field(rendered: list[KubeObject]) -> None:
    configmap = _find(rendered, "ConfigMap")
    live = copy.deepcopy(dict(configmap.body))
    live["data"] = {}
    live["metadata"]["labels"] = {}

    plan = compute_plan([configmap], {configmap.key: live}, [])

    assert plan.changes[0].fields == (
        ".metadata.labels.app.kubernetes.io/managed-by",
        ".metadata.labels.app.kubernetes.io/name",
        ".data.config.yml",
    )


def test_plan_line_shows_five_fields_at_most(rendered: list[KubeObject]) -> None:
    configmap = _find(rendered, "ConfigMap")
    body = copy.deepcopy(dict(configmap.body))
    body["data"] = {f"key{index}": "value" for index in range(7)}
    changed = KubeObject.from_body(body)

    plan = compute_plan([changed], {configmap.key: dict(configmap.body)}, [])

    assert format_plan(plan)[1] == (
        "  update  ConfigMap registry-mirror/mirror-docker-io (data.key0, data.key1, "
        "data.key2, data.key3, data.key4, 2 more)"
    )


@pytest.mark.parametrize(
    ("manifests", "message"),
    [
        pytest.param(
            {"a.yaml": "kind: ConfigMap\nmetadata: {name: x}\n"},
            "no apiVersion or kind",
            id="no-api-version",
        ),
        pytest.param(
            {"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"},
            "no metadata.name",
            id="no-name",
        ),
        pytest.param(
            {
                "a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
                "b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
            },
            "rendered twice",
            id="duplicate",
        ),
    ],
)
def test_bad_manifests_are_rejected(manifests: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        objects_from_manifests(manifests)


def test_kustomization_file_is_skipped() -> None:
    manifests = {
        "kustomization.yaml": "resources: [a.yaml]\n",
        "a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    }

    objects = objects_from_manifests(manifests)

    assert [str(obj.key) for obj in objects] == ["ConfigMap x"]


def _replace(objects: list[KubeObject], new: KubeObject) -> list[KubeObject]:
    return [new if obj.key == new.key else obj for obj in objects]


def _find(objects: list[KubeObject], kind: str) -> KubeObject:
    return next(obj for obj in objects if obj.key.kind == kind)
