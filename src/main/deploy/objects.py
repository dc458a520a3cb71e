"""Kubernetes objects as parsed from rendered manifests: keys, labels, apply order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from main.errors import UsageError

__all__ = [
    "APPLY_ORDER",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "PRUNABLE_KINDS",
    "KubeObject",
    "ObjectKey",
    "objects_from_manifests",
    "sort_for_apply",
    "sort_for_prune",
]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "registry-mirror"

# Kinds in the order that lets each object find what it refers to: the
# namespace before what lives in it, volumes before their claims, config and
# Services before the workloads that mount or dial them. Helm installs in a
# similar order; kinds not listed here go last.
APPLY_ORDER = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "Job",
    "CronJob",
)

# Kinds that this tool may have created in an earlier run, searched for
# leftovers to prune even when the current settings render none of them.
PRUNABLE_KINDS = (
    "Namespace",
    "NetworkPolicy",
    "ServiceAccount",
    "ConfigMap",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Service",
    "DaemonSet",
    "Deployment",
    "StatefulSet",
)

KUSTOMIZATION_FILES = frozenset(
    {"kustomization.yaml", "kustomization.yml", "Kustomization"}
)

# Kinds whose rollout `kubectl rollout status` can wait for.
ROLLOUT_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of an object: API group, kind, namespace ("" if cluster-wide), name.

    The API version is left out because one object is served under several
    versions of its group.
    """

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        if self.namespace:
            return f"{kind} {self.namespace}/{self.name}"
        return f"{kind} {self.name}"

    @property
    def resource(self) -> str:
        """The `kind/name` form that `kubectl rollout` and `kubectl get` accept."""
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind.lower()}/{self.name}"


@dataclass(frozen=True)
class KubeObject:
    """One Kubernetes object and its key."""

    key: ObjectKey
    body: Mapping[str, Any]

    @classmethod
    def from_body(cls, body: Mapping[str, Any], source: str = "") -> KubeObject:
        """Build an object from its parsed YAML or JSON, checking the identity fields.

        `source` names where the object came from, for the error message.
        """
        return cls(object_key(body, source), body)

    @property
    def labels(self) -> Mapping[str, str]:
        """The object's labels, empty if it has none."""
        metadata = self.body.get("metadata") or {}
        labels: Mapping[str, str] = metadata.get("labels") or {}
        return labels

    @property
    def managed(self) -> bool:
        """Whether the object carries this tool's managed-by label."""
        return self.labels.get(MANAGED_BY_LABEL) == MANAGED_BY

    @property
    def rolls_out(self) -> bool:
        """Whether the object is a workload with a rollout to wait for."""
        return self.key.kind in ROLLOUT_KINDS


def object_key(body: Mapping[str, Any], source: str = "") -> ObjectKey:
    """Return the key of a parsed object, raising UsageError if it has none."""
    where = f" in {source}" if source else ""
    api_version = body.get("apiVersion")
    kind = body.get("kind")
    metadata = body.get("metadata")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        msg = f"manifest{where} has no apiVersion or kind: render it again"
        raise UsageError(msg)
    if not isinstance(metadata, Mapping) or not metadata.get("name"):
        msg = f"{kind}{where} has no metadata.name: render it again"
        raise UsageError(msg)
    group = api_version.rpartition("/")[0]
    return ObjectKey(
        group, kind, str(metadata.get("namespace") or ""), metadata["name"]
    )


def objects_from_manifests(manifests: Mapping[str, str]) -> list[KubeObject]:
    """Parse rendered manifests (file name to YAML text) into objects.

    Kustomize's own `kustomization.yaml` and empty documents are skipped, and
    an object that appears twice is an error, since applying both would let
    the second silently win.
    """
    objects: dict[ObjectKey, KubeObject] = {}
    for filename in sorted(manifests):
        if PurePosixPath(filename).name in KUSTOMIZATION_FILES:
            continue
        for body in yaml.safe_load_all(manifests[filename]):
            if not body or _is_kustomization(body):
                continue
            obj = KubeObject.from_body(body, filename)
            if obj.key in objects:
                msg = f"{obj.key} is rendered twice (again in {filename}): render again"
                raise UsageError(msg)
            objects[obj.key] = obj
    return sort_for_apply(objects.values())


def sort_for_apply(objects: Iterable[KubeObject]) -> list[KubeObject]:
    """Return objects in apply order: by kind as in APPLY_ORDER, then by key."""
    return sorted(objects, key=_apply_rank)


def sort_for_prune(objects: Iterable[KubeObject]) -> list[KubeObject]:
    """Return objects in delete order, the reverse of the apply order."""
    return sorted(objects, key=_apply_rank, reverse=True)


def _apply_rank(obj: KubeObject) -> tuple[int, ObjectKey]:
    try:
        rank = APPLY_ORDER.index(obj.key.kind)
    except ValueError:
        rank = len(APPLY_ORDER)
    return rank, obj.key


def _is_kustomization(body: Mapping[str, Any]) -> bool:
    api_version = str(body.get("apiVersion", ""))
    return body.get("kind") == "Kustomization" and api_version.startswith(
        "kustomize.config.k8s.io/"
    )
