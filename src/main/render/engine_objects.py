"""Render the in-cluster Dagger engine the way Dagger's Helm chart runs it.

The conventions come from the chart in dagger/dagger (helm/dagger at chart
v0.21.8, whose templates are unchanged on the main branch). The container is
privileged and keeps `/var/lib/dagger` on a volume. `engine.json` is mounted
from a ConfigMap with `subPath`. The engine listens on
`--addr tcp://0.0.0.0:PORT` and on the unix socket that the image's own
`dagger` CLI uses. `dagger core version` is the readiness and liveness probe,
and the pod gets 300 seconds to terminate so that running operations can
finish. Unlike in the chart's StatefulSet, the cache claim is a separate
object, so that its size can grow without recreating the StatefulSet.
"""

from __future__ import annotations

from main.render.engine import ENGINE_CONFIG_PATH, dump_engine_config
from main.render.objects import (
    CONFIG_HASH_ANNOTATION,
    Manifest,
    config_hash,
    labels,
    metadata,
    resources,
    selector_labels,
    volume_claim,
)
from main.settings import Settings

__all__ = ["ENGINE_APP", "ENGINE_NAME", "render_engine"]

ENGINE_APP = "dagger-engine"
ENGINE_NAME = "dagger-engine"
# The image sets _EXPERIMENTAL_DAGGER_RUNNER_HOST to this socket, so the
# `dagger` CLI inside the container (used by the probes) connects through it.
SOCKET_DIRECTORY = "/run/dagger"
STATE_DIRECTORY = "/var/lib/dagger"


def render_engine(settings: Settings) -> list[Manifest]:
    """Return the engine's ConfigMap, cache claim, Service and StatefulSet."""
    namespace = settings.namespaces.engine
    object_labels = labels(ENGINE_APP, ENGINE_NAME, "engine")
    config = dump_engine_config(settings)
    config_map: Manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(ENGINE_NAME, object_labels, namespace),
        "data": {"engine.json": config},
    }
    claim = volume_claim(
        settings, ENGINE_NAME, namespace, settings.engine.cache_size, object_labels
    )
    return [
        config_map,
        *claim,
        _service(settings, object_labels),
        _stateful_set(settings, object_labels, config_hash(config)),
    ]


def _service(settings: Settings, object_labels: dict[str, str]) -> Manifest:
    port = {
        "name": "dagger",
        "port": settings.engine.port,
        "targetPort": "dagger",
        "protocol": "TCP",
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(ENGINE_NAME, object_labels, settings.namespaces.engine),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(ENGINE_APP, ENGINE_NAME),
            "ports": [port],
        },
    }


def _stateful_set(
    settings: Settings, object_labels: dict[str, str], digest: str
) -> Manifest:
    annotations = {CONFIG_HASH_ANNOTATION: digest}
    if settings.engine.metrics_port is not None:
        annotations |= {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(settings.engine.metrics_port),
            "prometheus.io/path": "/metrics",
        }
    pod_spec: Manifest = {
        # The engine never calls the Kubernetes API.
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": settings.engine.termination_grace_seconds,
        "containers": [_container(settings)],
        "volumes": [
            {"name": "config", "configMap": {"name": ENGINE_NAME}},
            {"name": "data", "persistentVolumeClaim": {"claimName": ENGINE_NAME}},
            {"name": "run", "emptyDir": {}},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(ENGINE_NAME, object_labels, settings.namespaces.engine),
        "spec": {
            # Only one engine can hold the lock on its state directory. A
            # StatefulSet stops the old pod before it starts the new one, so
            # two pods never wait for the ReadWriteOnce claim.
            "replicas": 1,
            "serviceName": ENGINE_NAME,
            "selector": {"matchLabels": selector_labels(ENGINE_APP, ENGINE_NAME)},
            "template": {
                "metadata": {"labels": object_labels, "annotations": annotations},
                "spec": pod_spec,
            },
        },
    }


def _container(settings: Settings) -> Manifest:
    engine = settings.engine
    probe = {"exec": {"command": ["dagger", "core", "version"]}}
    ports = [{"name": "dagger", "containerPort": engine.port, "protocol": "TCP"}]
    container: Manifest = {
        "name": "dagger-engine",
        "image": engine.image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "--addr",
            f"tcp://0.0.0.0:{engine.port}",
            "--addr",
            f"unix://{SOCKET_DIRECTORY}/engine.sock",
        ],
    }
    if engine.metrics_port is not None:
        # The engine serves Prometheus metrics only when this experimental
        # variable names an address (cmd/engine/main.go in Dagger 0.21).
        address = f"0.0.0.0:{engine.metrics_port}"
        container["env"] = [
            {"name": "_EXPERIMENTAL_DAGGER_METRICS_ADDR", "value": address}
        ]
        ports.append(
            {"name": "metrics", "containerPort": engine.metrics_port, "protocol": "TCP"}
        )
    container |= {
        "ports": ports,
        "readinessProbe": {
            **probe,
            "initialDelaySeconds": 5,
            "timeoutSeconds": 14,
            "periodSeconds": 15,
            "failureThreshold": 10,
        },
        "livenessProbe": {
            **probe,
            "initialDelaySeconds": 5,
            "timeoutSeconds": 29,
            "periodSeconds": 30,
            "failureThreshold": 20,
        },
        "resources": resources(engine.resources),
        # Privileged is required: the engine runs build containers with runc,
        # which needs to create namespaces, mounts and cgroups. Dagger does not
        # support running the engine rootless. Anyone who reaches its port can
        # run code as root on the node, hence the NetworkPolicy.
        "securityContext": {"privileged": True},
        "volumeMounts": [
            {
                "name": "config",
                "mountPath": ENGINE_CONFIG_PATH,
                "subPath": "engine.json",
                "readOnly": True,
            },
            {"name": "data", "mountPath": STATE_DIRECTORY},
            {"name": "run", "mountPath": SOCKET_DIRECTORY},
        ],
    }
    return container
