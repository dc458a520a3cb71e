"""Render the objects of one pull-through mirror per upstream registry.

Each mirror is a CNCF distribution instance in proxy mode that proxies
exactly one upstream: a ConfigMap with its config, a PersistentVolumeClaim
(and a local PersistentVolume if configured), a Service and a Deployment.
Clients reach it anonymously; a NetworkPolicy limits who can.
"""

from __future__ import annotations

from main.render.distribution import HEALTH_PATH, ProxyConfig, dump_distribution_config
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
from main.settings import Credentials, Settings, Upstream

__all__ = [
    "CONFIG_DIRECTORY",
    "MIRROR_APP",
    "MIRROR_USER",
    "mirror_config",
    "mirror_name",
    "render_mirror",
]

MIRROR_APP = "distribution"
# The registry:3 image has no USER, so it would start as root. Any fixed
# non-root user works, because the pod's fsGroup makes the data volume writable.
MIRROR_USER = 65532
# The official registry:3 image reads its config from this directory.
CONFIG_DIRECTORY = "/etc/distribution"
STORAGE_ROOT = "/var/lib/registry"


def mirror_name(upstream: Upstream) -> str:
    """Return the name of the mirror's objects, such as `mirror-docker-io`."""
    return f"mirror-{upstream.slug}"


def mirror_config(settings: Settings, upstream: Upstream) -> str:
    """Render the distribution config of this upstream's mirror as YAML."""
    config = ProxyConfig(
        remote_url=upstream.url,
        listen_address=f":{settings.mirror.port}",
        storage_root=STORAGE_ROOT,
        target_version="3",
        ttl=settings.mirror.ttl,
        debug_address=f":{settings.mirror.debug_port}",
        prometheus=True,
        # Read-only mode removes the PUT, POST and DELETE handlers, so clients
        # get 405. The proxy still caches: it writes to storage, not through
        # those handlers (registry/handlers/app.go in distribution v3.1.1).
        read_only=True,
    )
    return dump_distribution_config(config)


def render_mirror(settings: Settings, upstream: Upstream) -> list[Manifest]:
    """Return the objects of this upstream's mirror in apply order."""
    name = mirror_name(upstream)
    namespace = settings.namespaces.mirrors
    object_labels = labels(MIRROR_APP, name, "mirror")
    config = mirror_config(settings, upstream)
    config_map: Manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(name, object_labels, namespace),
        "data": {"config.yml": config},
    }
    size = upstream.size or settings.storage.size
    return [
        config_map,
        *volume_claim(settings, name, namespace, size, object_labels),
        _service(settings, name, object_labels),
        _deployment(settings, upstream, object_labels, config_hash(config)),
    ]


def _service(settings: Settings, name: str, object_labels: dict[str, str]) -> Manifest:
    port = {
        "name": "registry",
        "port": settings.mirror.port,
        "targetPort": "registry",
        "protocol": "TCP",
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, object_labels, settings.namespaces.mirrors),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(MIRROR_APP, name),
            "ports": [port],
        },
    }


def _deployment(
    settings: Settings, upstream: Upstream, object_labels: dict[str, str], digest: str
) -> Manifest:
    name = mirror_name(upstream)
    annotations = {
        CONFIG_HASH_ANNOTATION: digest,
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(settings.mirror.debug_port),
        "prometheus.io/path": "/metrics",
    }
    pod_spec: Manifest = {
        "automountServiceAccountToken": False,
        # Service links would add variables such as REGISTRY_PORT when a
        # Service named "registry" exists, and distribution reads every
        # REGISTRY_* variable as a config override.
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": MIRROR_USER,
            "runAsGroup": MIRROR_USER,
            "fsGroup": MIRROR_USER,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(settings, upstream)],
        "volumes": [
            {"name": "config", "configMap": {"name": name}},
            {"name": "data", "persistentVolumeClaim": {"claimName": name}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, object_labels, settings.namespaces.mirrors),
        "spec": {
            "replicas": 1,
            # A ReadWriteOnce volume attaches to one node at a time, so a
            # rolling update's new pod could wait forever for the old pod's
            # volume; Recreate stops the old pod first.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector_labels(MIRROR_APP, name)},
            "template": {
                "metadata": {"labels": object_labels, "annotations": annotations},
                "spec": pod_spec,
            },
        },
    }


def _container(settings: Settings, upstream: Upstream) -> Manifest:
    mirror = settings.mirror
    # /debug/health on the debug port returns 200 without authentication,
    # unlike /v2/, which returns 401 as soon as registry auth is enabled.
    health = {"path": HEALTH_PATH, "port": "debug"}
    container: Manifest = {
        "name": "distribution",
        "image": mirror.image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["serve", f"{CONFIG_DIRECTORY}/config.yml"],
        "ports": [
            {"name": "registry", "containerPort": mirror.port, "protocol": "TCP"},
            {"name": "debug", "containerPort": mirror.debug_port, "protocol": "TCP"},
        ],
    }
    if upstream.credentials is not None:
        container["env"] = _credential_env(upstream.credentials)
    container |= {
        "readinessProbe": {
            "httpGet": health,
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": health,
            "initialDelaySeconds": 10,
            "periodSeconds": 20,
            "failureThreshold": 6,
        },
        "resources": resources(mirror.resources),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIRECTORY, "readOnly": True},
            {"name": "data", "mountPath": STORAGE_ROOT},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 (an emptyDir in the pod)
        ],
    }
    return container


def _credential_env(credentials: Credentials) -> list[Manifest]:
    """Return the variables that pass the upstream login from its Secret.

    Distribution reads REGISTRY_PROXY_USERNAME and REGISTRY_PROXY_PASSWORD as
    `proxy.username` and `proxy.password`, so the values never appear in the
    ConfigMap or in any rendered file.
    """
    pairs = (
        ("REGISTRY_PROXY_USERNAME", credentials.username_key),
        ("REGISTRY_PROXY_PASSWORD", credentials.password_key),
    )
    return [
        {
            "name": variable,
            "valueFrom": {"secretKeyRef": {"name": credentials.secret, "key": key}},
        }
        for variable, key in pairs
    ]
