"""Render the objects of one pull-through mirror per upstream registry.

Each mirror is a CNCF distribution instance in proxy mode that proxies
exactly one upstream: a ConfigMap with its config, a PersistentVolumeClaim
(and a local PersistentVolume if configured), a Service and a Deployment.
Distribution reaches the upstream through the gateway, a sidecar in the same
pod. Clients reach the mirror anonymously; a NetworkPolicy limits who can.

Metrics: the pod's `prometheus.io/*` annotations point at the gateway, and
the Service's point at distribution's debug server. The usual annotation
scrape jobs, `kubernetes-pods` and `kubernetes-service-endpoints` as in the
prometheus-community Helm chart, read one port per pod and per Service.
"""

from __future__ import annotations

from main.render.distribution import (
    HEALTH_PATH,
    METRICS_PATH,
    ProxyConfig,
    dump_distribution_config,
)
from main.render.gateway import (
    GATEWAY_METRICS_PATH,
    gateway_remote_url,
    gateway_sidecar,
    spool_volume,
    storage_repair_init,
)
from main.render.objects import (
    CONFIG_HASH_ANNOTATION,
    Manifest,
    config_hash,
    labels,
    metadata,
    resources,
    restricted_security_context,
    selector_labels,
    volume_claim,
)
from main.settings import Settings, Upstream

__all__ = [
    "CONFIG_DIRECTORY",
    "MIRROR_APP",
    "MIRROR_CONTAINER",
    "MIRROR_USER",
    "mirror_config",
    "mirror_name",
    "render_mirror",
]

MIRROR_APP = "distribution"
MIRROR_CONTAINER = "distribution"
# The registry:3 image has no USER, so it would start as root. Any fixed
# non-root user works, because the pod's fsGroup makes the data volume writable.
MIRROR_USER = 65532
# The official registry:3 image reads its config from this directory.
CONFIG_DIRECTORY = "/etc/distribution"
STORAGE_ROOT = "/var/lib/registry"
DATA_VOLUME = "data"


def mirror_name(upstream: Upstream) -> str:
    """Return the name of the mirror's objects, such as `mirror-docker-io`."""
    return f"mirror-{upstream.slug}"


def mirror_config(settings: Settings, upstream: Upstream) -> str:
    """Render the distribution config of this upstream's mirror as YAML.

    Its remote is the gateway sidecar, which proxies `upstream.url`, so the
    config itself is the same for every upstream.
    """
    config = ProxyConfig(
        remote_url=gateway_remote_url(settings),
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
    annotations = _scrape_annotations(settings.mirror.debug_port, METRICS_PATH)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(
            name, object_labels, settings.namespaces.mirrors, annotations
        ),
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
        # `kubectl exec` and `kubectl logs` pick this container when none is named.
        "kubectl.kubernetes.io/default-container": MIRROR_CONTAINER,
        **_scrape_annotations(settings.gateway.port, GATEWAY_METRICS_PATH),
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
        "initContainers": [
            storage_repair_init(settings, DATA_VOLUME, STORAGE_ROOT),
            gateway_sidecar(settings, upstream, DATA_VOLUME, STORAGE_ROOT),
        ],
        "containers": [_container(settings)],
        "volumes": [
            {"name": "config", "configMap": {"name": name}},
            {"name": DATA_VOLUME, "persistentVolumeClaim": {"claimName": name}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            spool_volume(settings),
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


def _scrape_annotations(port: int, path: str) -> dict[str, str]:
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": path,
    }


def _container(settings: Settings) -> Manifest:
    mirror = settings.mirror
    # /debug/health on the debug port returns 200 without authentication,
    # unlike /v2/, which returns 401 as soon as registry auth is enabled.
    health = {"path": HEALTH_PATH, "port": "debug"}
    container: Manifest = {
        "name": MIRROR_CONTAINER,
        "image": mirror.image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["serve", f"{CONFIG_DIRECTORY}/config.yml"],
        "ports": [
            {"name": "registry", "containerPort": mirror.port, "protocol": "TCP"},
            {"name": "debug", "containerPort": mirror.debug_port, "protocol": "TCP"},
        ],
    }
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
        "securityContext": restricted_security_context(),
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIRECTORY, "readOnly": True},
            {"name": DATA_VOLUME, "mountPath": STORAGE_ROOT},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 (an emptyDir in the pod)
        ],
    }
    return container
