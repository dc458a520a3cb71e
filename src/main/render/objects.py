"""Build the Kubernetes object parts that several renderers share.

Objects are plain dicts whose key order is the order in which they are
written, so the rendered YAML is stable. Every object carries the label
`app.kubernetes.io/managed-by: registry-mirror`, which `deploy` uses to find
and prune objects that are no longer rendered.
"""

from __future__ import annotations

import hashlib
from typing import Any

from main.settings import LocalVolume, Resources, Settings

__all__ = [
    "CONFIG_HASH_ANNOTATION",
    "MANAGED_BY",
    "Manifest",
    "config_hash",
    "labels",
    "metadata",
    "resources",
    "restricted_security_context",
    "selector_labels",
    "volume_claim",
]

Manifest = dict[str, Any]

MANAGED_BY = "registry-mirror"
CONFIG_HASH_ANNOTATION = "registry-mirror/config-sha256"


def selector_labels(name: str, instance: str) -> dict[str, str]:
    """Return the labels that select the pods of one workload."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}


def labels(name: str, instance: str, component: str) -> dict[str, str]:
    """Return the full label set of an object that belongs to one workload."""
    return {
        **selector_labels(name, instance),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "registry-mirror",
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def metadata(
    name: str,
    object_labels: dict[str, str],
    namespace: str | None = None,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """Return object metadata. Cluster-scoped objects pass no namespace."""
    meta: Manifest = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(object_labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def config_hash(text: str) -> str:
    """Return the SHA-256 of a config file, so that a change restarts its pods."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def resources(spec: Resources) -> Manifest:
    """Return a container's `resources` from the settings."""
    limits: Manifest = {"memory": spec.memory_limit}
    if spec.cpu_limit is not None:
        limits = {"cpu": spec.cpu_limit, **limits}
    return {
        "requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
        "limits": limits,
    }


def restricted_security_context() -> Manifest:
    """Return a container `securityContext` for the restricted Pod Security level.

    Non-root, read-only root filesystem, no privilege escalation, every
    capability dropped and the runtime's default seccomp profile.
    """
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def volume_claim(
    settings: Settings,
    name: str,
    namespace: str,
    size: str,
    object_labels: dict[str, str],
) -> list[Manifest]:
    """Return the PersistentVolumeClaim `name`, preceded by its local volume if any.

    Without `storage.local` the claim uses `storage.storage_class`, or the
    cluster's default class when that is unset. With `storage.local` a local
    PersistentVolume on the named node is rendered and bound to the claim by
    name, for clusters that have no volume provisioner.
    """
    storage = settings.storage
    spec: Manifest = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    objects: list[Manifest] = []
    if storage.local is not None:
        volume_name = f"{namespace}-{name}"
        objects.append(
            _local_volume(
                storage.local, volume_name, name, namespace, size, object_labels
            )
        )
        # The empty class keeps a default StorageClass from provisioning a volume.
        spec["storageClassName"] = ""
        spec["volumeName"] = volume_name
    elif storage.storage_class is not None:
        spec["storageClassName"] = storage.storage_class
    claim: Manifest = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(name, object_labels, namespace),
        "spec": spec,
    }
    return [*objects, claim]


def _local_volume(
    local: LocalVolume,
    volume_name: str,
    claim_name: str,
    namespace: str,
    size: str,
    object_labels: dict[str, str],
) -> Manifest:
    # A local volume needs its directory on the node before the pod starts,
    # because the kubelet does not create it, unlike a hostPath volume.
    node_term = {
        "matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [local.node]}
        ]
    }
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": metadata(volume_name, object_labels),
        "spec": {
            "capacity": {"storage": size},
            "volumeMode": "Filesystem",
            "accessModes": ["ReadWriteOnce"],
            # Retain keeps the cached images when the claim is deleted.
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "claimRef": {"namespace": namespace, "name": claim_name},
            "local": {"path": f"{local.path}/{claim_name}"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [node_term]}},
        },
    }
