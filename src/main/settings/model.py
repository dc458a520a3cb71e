"""The validated settings tree: frozen dataclasses with their defaults."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_REGISTRIES",
    "ENGINE_REPOSITORY",
    "ENGINE_VERSION",
    "GATEWAY_IMAGE_PLACEHOLDER",
    "KNOWN_REGISTRIES",
    "REGISTRY_IMAGE",
    "Credentials",
    "Engine",
    "Gateway",
    "LocalVolume",
    "Mirror",
    "Namespaces",
    "Resources",
    "Settings",
    "Storage",
    "Upstream",
]

# The one place that pins the Dagger engine version. It must equal the
# dagger-io pin in pyproject.toml and dagger.json's engineVersion.
ENGINE_VERSION = "0.21.11"
ENGINE_REPOSITORY = "registry.dagger.io/engine"

# CNCF distribution 3.1.1: the digest of the official image's multi-platform index.
REGISTRY_IMAGE = (
    "docker.io/library/registry:3.1.1"
    "@sha256:1be55279f18a2fe1a74edf2664cac61c1bea305b7b4642dab412e7affdcb3e33"
)

# The gateway image is built from this repository (the Dagger function
# `build-gateway`) and published by each user, so no real default exists.
# `deploy` rejects this placeholder; `render` accepts it.
GATEWAY_IMAGE_PLACEHOLDER = "ghcr.io/OWNER/registry-mirror-gateway:0.1.0"

# The registry API endpoint of well-known registries. Docker Hub serves its
# API from another host than the name that image references use.
KNOWN_REGISTRIES: Mapping[str, str] = {
    "docker.io": "https://registry-1.docker.io",
    "ghcr.io": "https://ghcr.io",
    "quay.io": "https://quay.io",
    "registry.k8s.io": "https://registry.k8s.io",
    "gcr.io": "https://gcr.io",
    "mcr.microsoft.com": "https://mcr.microsoft.com",
    "public.ecr.aws": "https://public.ecr.aws",
}
DEFAULT_REGISTRIES = ("docker.io", "ghcr.io", "quay.io", "registry.k8s.io")


@dataclass(frozen=True)
class Namespaces:
    """Kubernetes namespaces of the mirrors, the engine and the CI runners.

    `monitoring`, when set, is the namespace whose pods may scrape metrics.
    """

    mirrors: str = "registry-mirror"
    engine: str = "dagger"
    runners: str = "arc-runners"
    monitoring: str | None = None


@dataclass(frozen=True)
class Credentials:
    """Reference to the Secret that contains one upstream's username and password."""

    secret: str
    username_key: str = "username"
    password_key: str = "password"  # noqa: S105 (a key name, not a password)


@dataclass(frozen=True)
class Upstream:
    """One upstream registry and the settings of the mirror that proxies it.

    `mirror` replaces the in-cluster Service address that the engine dials,
    for a mirror that the engine reaches another way; `size` replaces the
    storage size of this mirror alone.
    """

    registry: str
    url: str
    mirror: str | None = None
    credentials: Credentials | None = None
    size: str | None = None

    @property
    def slug(self) -> str:
        """Registry name as a part of an object name: `docker.io` is `docker-io`."""
        return re.sub(r"[^a-z0-9]+", "-", self.registry).strip("-")


@dataclass(frozen=True)
class LocalVolume:
    """A directory on one node, for clusters without a volume provisioner."""

    node: str
    path: str


@dataclass(frozen=True)
class Storage:
    """Persistent volumes of the mirrors; the engine's cache uses the same kind."""

    size: str = "50Gi"
    storage_class: str | None = None
    local: LocalVolume | None = None


@dataclass(frozen=True)
class Resources:
    """CPU and memory requests and limits of one container."""

    cpu_request: str
    memory_request: str
    memory_limit: str
    cpu_limit: str | None = None


@dataclass(frozen=True)
class Mirror:
    """Settings shared by every mirror: image, ports, expiry and resources.

    `ttl` is how long the proxy keeps content it has not pulled again; only
    distribution 3 reads it.
    """

    image: str = REGISTRY_IMAGE
    port: int = 5000
    debug_port: int = 5001
    ttl: str = "168h"
    resources: Resources = Resources("100m", "128Mi", "512Mi", "1")


@dataclass(frozen=True)
class Gateway:
    """Settings of the upstream gateway, the sidecar between a mirror and its upstream.

    Timeouts are in seconds. `spool_size` limits the emptyDir that holds the
    spool files of upstream responses in flight and recently reused.
    """

    image: str = GATEWAY_IMAGE_PLACEHOLDER
    port: int = 5002
    spool_size: str = "2Gi"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    tag_deadline: float = 2.0
    # NOTE: sized from one measurement: about 60 MB resident set at idle
    # (Python 3.11, x86_64). A busy gateway holds more flights and known tags.
    resources: Resources = Resources("50m", "96Mi", "256Mi", "1")


@dataclass(frozen=True)
class Engine:
    """Settings of the in-cluster Dagger engine."""

    repository: str = ENGINE_REPOSITORY
    port: int = 8080
    cache_size: str = "100Gi"
    termination_grace_seconds: int = 300
    metrics_port: int | None = None
    resources: Resources = Resources("1", "2Gi", "8Gi")

    @property
    def image(self) -> str:
        """Engine image tagged with the pinned engine version."""
        return f"{self.repository}:v{ENGINE_VERSION}"


def _default_upstreams() -> tuple[Upstream, ...]:
    return tuple(Upstream(name, KNOWN_REGISTRIES[name]) for name in DEFAULT_REGISTRIES)


@dataclass(frozen=True)
class Settings:
    """Everything that rendering needs, validated; upstreams sorted by registry."""

    namespaces: Namespaces = Namespaces()
    cluster_domain: str = "cluster.local"
    upstreams: tuple[Upstream, ...] = field(default_factory=_default_upstreams)
    storage: Storage = Storage()
    mirror: Mirror = Mirror()
    gateway: Gateway = Gateway()
    engine: Engine = Engine()

    def mirror_address(self, upstream: Upstream) -> str:
        """Return the `host:port` at which the engine reaches this upstream's mirror."""
        if upstream.mirror is not None:
            return upstream.mirror
        return self.service_address(upstream)

    def service_address(self, upstream: Upstream) -> str:
        """Return the `host:port` of this upstream's mirror Service in the cluster."""
        host = f"mirror-{upstream.slug}.{self.namespaces.mirrors}.svc"
        return f"{host}.{self.cluster_domain}:{self.mirror.port}"
