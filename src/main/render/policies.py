"""Render the namespaces and the NetworkPolicies that fence the engine and mirrors.

The engine's port is plain TCP without authentication, and anyone who reaches
it can run privileged containers on the node, so only pods in the runners'
namespace may connect. The mirrors accept anonymous pulls, so only the engine
may connect to them, and only to the registry port. The gateway sidecar's
port serves the registry API with the upstream login behind it, besides its
metrics, so only the monitoring namespace may reach it, as it may reach
distribution's debug port. A NetworkPolicy needs a CNI plugin that enforces it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from main.render.engine_objects import ENGINE_APP, ENGINE_NAME
from main.render.mirrors import MIRROR_APP
from main.render.objects import MANAGED_BY, Manifest, metadata, selector_labels
from main.settings import Settings

__all__ = ["render_namespaces", "render_network_policies"]

_NAMESPACE_LABEL = "kubernetes.io/metadata.name"


def render_namespaces(settings: Settings) -> list[Manifest]:
    """Return the mirrors' and the engine's namespaces with Pod Security labels.

    The mirrors' namespace enforces the `restricted` Pod Security Standard,
    which the mirror pods meet. The engine's namespace must allow
    `privileged`. The runners' namespace belongs to the runner installation
    and is only referenced.
    """
    levels = {settings.namespaces.mirrors: "restricted"}
    levels[settings.namespaces.engine] = "privileged"
    return [_namespace(name, level) for name, level in sorted(levels.items())]


def _namespace(name: str, level: str) -> Manifest:
    namespace_labels = {
        "app.kubernetes.io/part-of": "registry-mirror",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "pod-security.kubernetes.io/enforce": level,
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(name, namespace_labels),
    }


def render_network_policies(settings: Settings) -> list[Manifest]:
    """Return the engine's and the mirrors' NetworkPolicies."""
    return [_engine_policy(settings), _mirror_policy(settings)]


def _from_namespace(namespace: str) -> Manifest:
    return {"namespaceSelector": {"matchLabels": {_NAMESPACE_LABEL: namespace}}}


def _tcp(port: int) -> Manifest:
    return {"protocol": "TCP", "port": port}


def _policy(
    name: str, namespace: str, pod_labels: dict[str, str], spec: Manifest
) -> Manifest:
    policy_labels = {
        "app.kubernetes.io/part-of": "registry-mirror",
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, policy_labels, namespace),
        "spec": {"podSelector": {"matchLabels": pod_labels}, **spec},
    }


def _engine_policy(settings: Settings) -> Manifest:
    namespaces = settings.namespaces
    engine = settings.engine
    ingress = [
        {"from": [_from_namespace(namespaces.runners)], "ports": [_tcp(engine.port)]}
    ]
    if engine.metrics_port is not None and namespaces.monitoring is not None:
        ingress.append(
            {
                "from": [_from_namespace(namespaces.monitoring)],
                "ports": [_tcp(engine.metrics_port)],
            }
        )
    # Egress stays open: builds fetch from anywhere, and the engine falls back
    # to the upstream registry when a mirror fails.
    spec = {"policyTypes": ["Ingress"], "ingress": ingress}
    pods = selector_labels(ENGINE_APP, ENGINE_NAME)
    return _policy(ENGINE_NAME, namespaces.engine, pods, spec)


def _mirror_policy(settings: Settings) -> Manifest:
    namespaces = settings.namespaces
    mirror = settings.mirror
    engine_pods = {
        **_from_namespace(namespaces.engine),
        "podSelector": {"matchLabels": selector_labels(ENGINE_APP, ENGINE_NAME)},
    }
    ingress = [{"from": [engine_pods], "ports": [_tcp(mirror.port)]}]
    if namespaces.monitoring is not None:
        ingress.append(
            {
                "from": [_from_namespace(namespaces.monitoring)],
                "ports": [_tcp(mirror.debug_port), _tcp(settings.gateway.port)],
            }
        )
    dns = [{"protocol": protocol, "port": 53} for protocol in ("UDP", "TCP")]
    # Upstreams redirect blob downloads to CDNs on other hosts, so egress is
    # limited by port, not by address. Distribution reaches the gateway over
    # the pod's loopback, which no NetworkPolicy filters.
    upstream_ports = sorted({_url_port(u.url) for u in settings.upstreams})
    egress = [{"ports": dns}, {"ports": [_tcp(port) for port in upstream_ports]}]
    spec = {"policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress}
    pods = {"app.kubernetes.io/name": MIRROR_APP}
    return _policy("mirrors", namespaces.mirrors, pods, spec)


def _url_port(url: str) -> int:
    parts = urlsplit(url)
    if parts.port is not None:
        return parts.port
    return 443 if parts.scheme == "https" else 80
