"""Render the upstream gateway: the sidecar through which a mirror reaches upstream.

Distribution's `proxy.remoteurl` is the gateway on the pod's loopback, and
only the gateway talks to the real upstream. Distribution 2.8 sends
`GET /v2/` to its remote at start-up and panics when that fails
(https://github.com/distribution/distribution/issues/4038), so the gateway
must listen before distribution starts. A native sidecar gives that order:
an init container with `restartPolicy: Always` (Kubernetes 1.29 and later)
keeps running beside the main containers, and the kubelet starts the next
container only after the sidecar's startup probe has passed.

The upstream login goes to the gateway alone, as references to a Secret. The
values never appear in a rendered file.
"""

from __future__ import annotations

from main.render.objects import Manifest, resources, restricted_security_context
from main.settings import Credentials, Settings, Upstream

__all__ = [
    "GATEWAY_CONTAINER",
    "GATEWAY_HEALTH_PATH",
    "GATEWAY_METRICS_PATH",
    "PASSWORD_VARIABLE",
    "SPOOL_DIRECTORY",
    "SPOOL_VOLUME",
    "STATE_SUBDIRECTORY",
    "USERNAME_VARIABLE",
    "gateway_remote_url",
    "gateway_sidecar",
    "spool_volume",
]

GATEWAY_CONTAINER = "gateway"
# The paths and variables that `registry-mirror gateway` serves and reads
# (main.gateway.app and main.gateway.config). Importing the gateway package
# would load its server and metrics registry into every process that renders,
# so they are repeated here, and a test keeps both copies equal.
GATEWAY_HEALTH_PATH = "/healthz"
GATEWAY_METRICS_PATH = "/metrics"
USERNAME_VARIABLE = "REGISTRY_MIRROR_UPSTREAM_USERNAME"
PASSWORD_VARIABLE = "REGISTRY_MIRROR_UPSTREAM_PASSWORD"  # noqa: S105 (a name)

SPOOL_VOLUME = "gateway-spool"
SPOOL_DIRECTORY = "/var/cache/gateway"
# The known-tags file lives on the mirror's volume, so it survives restarts
# with the cache it describes. The gateway creates this directory itself, on
# the volume that the pod's fsGroup makes writable.
STATE_SUBDIRECTORY = "gateway"


def gateway_remote_url(settings: Settings) -> str:
    """Return the URL at which distribution reaches the gateway in its own pod."""
    return f"http://127.0.0.1:{settings.gateway.port}"


REPAIR_CONTAINER = "repair-storage"


def spool_volume(settings: Settings) -> Manifest:
    """Return the emptyDir for the spool files of upstream responses."""
    return {
        "name": SPOOL_VOLUME,
        "emptyDir": {"sizeLimit": settings.gateway.spool_size},
    }


def storage_repair_init(
    settings: Settings, data_volume: str, storage_root: str
) -> Manifest:
    """Return the init container that repairs the cache after a crash.

    Distribution rewrites its scheduler state in place, so a kill at the
    wrong moment leaves a truncated file that makes it panic at every start;
    this runs the project's repair, from the gateway image, before anything
    else in the pod uses the volume.
    """
    gateway = settings.gateway
    return {
        "name": REPAIR_CONTAINER,
        "image": gateway.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["registry-mirror", "repair-storage", storage_root],
        "resources": resources(gateway.resources),
        "securityContext": restricted_security_context(),
        "volumeMounts": [{"name": data_volume, "mountPath": storage_root}],
    }


def gateway_sidecar(
    settings: Settings, upstream: Upstream, data_volume: str, storage_root: str
) -> Manifest:
    """Return the gateway as a native sidecar for the mirror of `upstream`.

    `data_volume` is the mirror's volume, mounted at `storage_root` as in the
    distribution container, and the state folder is a directory below it.
    """
    gateway = settings.gateway
    health = {"path": GATEWAY_HEALTH_PATH, "port": "gateway"}
    container: Manifest = {
        "name": GATEWAY_CONTAINER,
        "image": gateway.image,
        "imagePullPolicy": "IfNotPresent",
        "restartPolicy": "Always",
        "args": _arguments(settings, upstream, storage_root),
        "ports": [
            {"name": "gateway", "containerPort": gateway.port, "protocol": "TCP"}
        ],
    }
    if upstream.credentials is not None:
        container["env"] = _credential_env(upstream.credentials)
    container |= {
        # The kubelet starts distribution only after this probe passed.
        "startupProbe": {
            "httpGet": health,
            "periodSeconds": 1,
            "failureThreshold": 60,
        },
        # /healthz returns 200 whatever the upstream's state, because the
        # mirror must stay ready to serve its cache while the upstream is down.
        "readinessProbe": {
            "httpGet": health,
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": health,
            "periodSeconds": 20,
            "failureThreshold": 6,
        },
        "resources": resources(gateway.resources),
        "securityContext": restricted_security_context(),
        "volumeMounts": [
            {"name": data_volume, "mountPath": storage_root},
            {"name": SPOOL_VOLUME, "mountPath": SPOOL_DIRECTORY},
        ],
    }
    return container


def _arguments(settings: Settings, upstream: Upstream, storage_root: str) -> list[str]:
    """Return the arguments after the image's entrypoint `registry-mirror gateway`."""
    gateway = settings.gateway
    return [
        f"--upstream={upstream.url}",
        # Every interface, so that the kubelet's probes and Prometheus reach
        # it; the NetworkPolicy admits only the monitoring namespace.
        f"--listen=0.0.0.0:{gateway.port}",
        f"--state-dir={storage_root}/{STATE_SUBDIRECTORY}",
        f"--spool-dir={SPOOL_DIRECTORY}",
        f"--connect-timeout={gateway.connect_timeout:g}",
        f"--read-timeout={gateway.read_timeout:g}",
        f"--tag-deadline={gateway.tag_deadline:g}",
    ]


def _credential_env(credentials: Credentials) -> list[Manifest]:
    """Return the variables from which the gateway reads the upstream login."""
    pairs = (
        (USERNAME_VARIABLE, credentials.username_key),
        (PASSWORD_VARIABLE, credentials.password_key),
    )
    return [
        {
            "name": variable,
            "valueFrom": {"secretKeyRef": {"name": credentials.secret, "key": key}},
        }
        for variable, key in pairs
    ]
