"""Gather the status of every mirror and of the engine's registry config.

With a kubeconfig, each mirror is reached through `kubectl port-forward`
(registry API, debug server and gateway), its disk use is read with `du` in
the pod, and the engine's `engine.json` is read from its ConfigMap. Without
one, the mirrors are reached at their URLs. From inside the engine, where a
Dagger function runs, those are the rendered Service addresses. Counters,
disk use and the engine config are then unknown, and so are the gateway's
metrics unless its URL is given. Without a kubeconfig, a mirror or gateway
URL given for some registries limits the report to those registries, because
the Service addresses of the others resolve only inside the cluster.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from main.deploy.kubectl import Kubectl
from main.errors import RegistryError, UsageError
from main.reference import normalize_base_url
from main.render.engine_objects import ENGINE_NAME
from main.render.mirrors import STORAGE_ROOT, mirror_name
from main.settings import Settings, Upstream
from main.status.cluster import disk_use_bytes, port_forward, read_config_map_key
from main.status.engine import check_engine_config
from main.status.gateway import GatewayFigures, read_gateway_metrics
from main.status.registry import (
    DEFAULT_PAGE_SIZE,
    list_repositories,
    list_tags,
    read_proxy_counters,
)
from main.status.report import MirrorStatus, StatusReport

__all__ = [
    "check_registries",
    "collect_status",
    "expected_mirrors",
    "upstreams_to_read",
]

HTTP_TIMEOUT = 15.0
ENGINE_CONFIG_KEY = "engine.json"


@dataclass(frozen=True)
class _Endpoints:
    base_url: str
    debug_url: str | None
    gateway_url: str | None


def expected_mirrors(settings: Settings) -> dict[str, str]:
    """Return the mirror `host:port` that the engine should use per upstream."""
    return {u.registry: settings.mirror_address(u) for u in settings.upstreams}


async def collect_status(
    settings: Settings,
    *,
    kubectl: Kubectl | None = None,
    mirror_urls: Mapping[str, str] | None = None,
    gateway_urls: Mapping[str, str] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> StatusReport:
    """Read every mirror of the settings, and the engine config if `kubectl` is set.

    `mirror_urls` replaces the URL of single mirrors by registry name, and
    `gateway_urls` the URL of their gateways. A URL with a user name, query
    or fragment raises UsageError, because the report and logs quote URLs.
    """
    urls = _checked_urls(mirror_urls)
    gateways = _checked_urls(gateway_urls)
    check_registries(settings, urls, "--mirror")
    check_registries(settings, gateways, "--gateway")
    upstreams = upstreams_to_read(
        settings, kubeconfig_given=kubectl is not None, named=[*urls, *gateways]
    )
    mirrors = []
    async with httpx.AsyncClient(trust_env=False, timeout=HTTP_TIMEOUT) as client:
        for upstream in upstreams:
            async with _endpoints(
                settings, upstream, kubectl, urls, gateways
            ) as endpoints:
                mirrors.append(
                    await _mirror_status(
                        client, settings, upstream, endpoints, kubectl, page_size
                    )
                )
    if kubectl is None:
        return StatusReport(mirrors, None, "pass --kubeconfig to read engine.json")
    text = await read_config_map_key(
        kubectl, settings.namespaces.engine, ENGINE_NAME, ENGINE_CONFIG_KEY
    )
    return StatusReport(mirrors, check_engine_config(text, expected_mirrors(settings)))


def check_registries(settings: Settings, names: Collection[str], option: str) -> None:
    """Raise UsageError if `option` names a registry that has no upstream."""
    known = [upstream.registry for upstream in settings.upstreams]
    for name in names:
        if name not in known:
            msg = (
                f"invalid {option} registry {name!r}: the settings have no upstream "
                f"of that name; use one of: {', '.join(known)}"
            )
            raise UsageError(msg)


def upstreams_to_read(
    settings: Settings, *, kubeconfig_given: bool, named: Collection[str]
) -> list[Upstream]:
    """Return the upstreams whose mirrors the report covers.

    These are all upstreams when a kubeconfig is given or no registry is
    `named`. Otherwise they are the named ones only, because the default
    addresses of the others are Service names that resolve inside the cluster.
    """
    if kubeconfig_given or not named:
        return list(settings.upstreams)
    return [upstream for upstream in settings.upstreams if upstream.registry in named]


def _checked_urls(urls: Mapping[str, str] | None) -> dict[str, str]:
    return {name: normalize_base_url(url) for name, url in (urls or {}).items()}


@asynccontextmanager
async def _endpoints(
    settings: Settings,
    upstream: Upstream,
    kubectl: Kubectl | None,
    urls: Mapping[str, str],
    gateways: Mapping[str, str],
) -> AsyncIterator[_Endpoints]:
    gateway_url = gateways.get(upstream.registry)
    if upstream.registry in urls or kubectl is None:
        default = f"http://{settings.service_address(upstream)}"
        yield _Endpoints(urls.get(upstream.registry, default), None, gateway_url)
        return
    # The gateway's port is on no Service and the NetworkPolicy admits only
    # the monitoring namespace, so it is reached through the same forward.
    ports = [settings.mirror.port, settings.mirror.debug_port, settings.gateway.port]
    resource = f"deployment/{mirror_name(upstream)}"
    async with port_forward(
        kubectl, settings.namespaces.mirrors, resource, ports
    ) as local:
        yield _Endpoints(
            f"http://127.0.0.1:{local[ports[0]]}",
            f"http://127.0.0.1:{local[ports[1]]}",
            gateway_url or f"http://127.0.0.1:{local[ports[2]]}",
        )


async def _mirror_status(
    client: httpx.AsyncClient,
    settings: Settings,
    upstream: Upstream,
    endpoints: _Endpoints,
    kubectl: Kubectl | None,
    page_size: int,
) -> MirrorStatus:
    repositories = await list_repositories(
        client, endpoints.base_url, page_size=page_size
    )
    tags = {
        name: await list_tags(
            client, endpoints.base_url, name, page_size=page_size, max_pages=1
        )
        for name in repositories.items
    }
    counters = None
    note = ""
    if endpoints.debug_url is None:
        note = "pass --kubeconfig to read the counters and disk use"
    else:
        try:
            counters = await read_proxy_counters(client, endpoints.debug_url)
        except RegistryError as exc:
            note = f"counters unknown: {exc}"
    disk_bytes = None
    if kubectl is not None:
        disk_bytes = await disk_use_bytes(
            kubectl,
            settings.namespaces.mirrors,
            f"deployment/{mirror_name(upstream)}",
            STORAGE_ROOT,
        )
    gateway, gateway_note = await _gateway_figures(client, endpoints.gateway_url)
    return MirrorStatus(
        registry=upstream.registry,
        url=endpoints.base_url,
        size=upstream.size or settings.storage.size,
        repositories=repositories,
        tags=tags,
        counters=counters,
        disk_bytes=disk_bytes,
        note=note,
        gateway=gateway,
        gateway_note=gateway_note,
    )


async def _gateway_figures(
    client: httpx.AsyncClient, gateway_url: str | None
) -> tuple[GatewayFigures | None, str]:
    """Read the gateway's metrics; return None and the reason when that fails."""
    if gateway_url is None:
        return None, "pass --kubeconfig, or --gateway REGISTRY=URL"
    try:
        return await read_gateway_metrics(client, gateway_url), ""
    except RegistryError as exc:
        return None, str(exc)
