"""Turn parsed TOML plus dotted-key overrides into a validated `Settings`."""

from __future__ import annotations

import copy
import difflib
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from main.errors import SettingsError
from main.settings.model import (
    DEFAULT_REGISTRIES,
    GATEWAY_IMAGE_PLACEHOLDER,
    KNOWN_REGISTRIES,
    Credentials,
    Engine,
    Gateway,
    LocalVolume,
    Mirror,
    Namespaces,
    Resources,
    Settings,
    Storage,
    Upstream,
)
from main.settings.values import (
    check_absolute_path,
    check_cpu,
    check_duration,
    check_host_port,
    check_image_reference,
    check_image_repository,
    check_label,
    check_memory,
    check_pinned_image,
    check_port,
    check_seconds,
    check_secret_key,
    check_size,
    check_subdomain,
    check_timeout,
    check_url,
)

__all__ = ["load_settings", "parse_settings"]

Check = Callable[[str, Any, Any], Any]

_REGISTRY_ALIASES = {
    "index.docker.io": "docker.io",
    "registry-1.docker.io": "docker.io",
}
# Keys that would put a login into the settings file. Their values are never echoed.
_INLINE_SECRETS = frozenset({"auth", "password", "token", "username"})
_UPSTREAM_FIELDS = (
    "credentials.password_key",
    "credentials.secret",
    "credentials.username_key",
    "mirror",
    "size",
    "url",
)


def load_settings(
    path: Path | None = None, overrides: Mapping[str, object] | None = None
) -> Settings:
    """Read the settings file at `path` (only defaults if None) and validate it."""
    data: dict[str, Any] = {}
    if path is not None:
        name = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            _fail(f"settings file {name!r} not found; create it or pass another path")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"settings file {name!r} cannot be read: {exc}")
        except tomllib.TOMLDecodeError as exc:
            _fail(f"settings file {name!r} is not valid TOML: {exc}; fix that line")
    return parse_settings(data, overrides)


def parse_settings(
    data: Mapping[str, Any], overrides: Mapping[str, object] | None = None
) -> Settings:
    """Validate parsed TOML `data` after applying dotted-key `overrides`."""
    raw = copy.deepcopy(dict(data))
    if "upstreams" not in raw:
        raw["upstreams"] = {name: {} for name in DEFAULT_REGISTRIES}
    for key, value in (overrides or {}).items():
        _apply_override(raw, key, value)
    return _build_settings(raw)


def _fail(message: str) -> NoReturn:
    raise SettingsError(message)


# --- overrides ----------------------------------------------------------------


def _apply_override(raw: dict[str, Any], key: str, value: object) -> None:
    if key == "upstreams":
        _select_upstreams(raw, value)
        return
    path = key.split(".")
    if not key.startswith("upstreams.") and key not in _override_keys():
        close = difflib.get_close_matches(key, _override_keys(), n=1)
        hint = f"use {close[0]!r}" if close else "see registry-mirror.toml for the keys"
        _fail(f"unknown override key {key!r}; {hint}")
    if key.startswith("upstreams."):
        rest = key.removeprefix("upstreams.")
        names = [name for name in _UPSTREAM_FIELDS if rest.endswith("." + name)]
        if not names:
            fields = ", ".join(_UPSTREAM_FIELDS)
            _fail(f"unknown override key {key!r}; use upstreams.<registry>.<{fields}>")
        registry = rest.removesuffix("." + names[0])
        path = ["upstreams", registry, *names[0].split(".")]
    table = raw
    for part in path[:-1]:
        child = table.setdefault(part, {})
        if not isinstance(child, dict):
            _fail(f"override key {key!r} goes through {part!r}, which is not a table")
        table = child
    if value is None or value == "":
        table.pop(path[-1], None)
    else:
        table[path[-1]] = value


def _select_upstreams(raw: dict[str, Any], value: object) -> None:
    names = value.split(",") if isinstance(value, str) else value
    tables = raw["upstreams"]
    if not isinstance(names, list | tuple) or not isinstance(tables, dict):
        _fail(f"override upstreams {value!r} must list registries: 'docker.io,ghcr.io'")
    selected = [str(name).strip().lower() for name in names if str(name).strip()]
    for name in selected:
        if name not in tables:
            known = ", ".join(sorted(tables))
            _fail(f"unknown upstream {name!r}; use one of {known}")
    raw["upstreams"] = {name: tables[name] for name in selected}


# --- tables and fields --------------------------------------------------------


def _table(
    raw: Mapping[str, Any], key: str, allowed: tuple[str, ...]
) -> dict[str, Any]:
    """Return the table at dotted `key` (empty if absent), rejecting unknown keys."""
    table: object = raw
    for part in key.split("."):
        table = table.get(part, {}) if isinstance(table, dict) else table
    if not isinstance(table, dict):
        _fail(f"{key} must be a table, not {type(table).__name__}")
    _reject_unknown(key, table, allowed)
    return table


def _reject_unknown(
    prefix: str, table: Mapping[str, Any], allowed: tuple[str, ...]
) -> None:
    for name in table:
        if name in allowed:
            continue
        where = f"{prefix}.{name}" if prefix else name
        if name.lower() in _INLINE_SECRETS:
            _fail(
                f"{where} is not accepted: upstream logins are read from a Kubernetes"
                ' Secret; set credentials = { secret = "NAME" } instead'
            )
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"use {close[0]!r}" if close else f"known keys: {', '.join(allowed)}"
        _fail(f"unknown key {where!r}; {hint}")


def _fields(
    key: str, raw: Mapping[str, Any], default: object, checks: Mapping[str, Check]
) -> dict[str, Any]:
    """Check each field of the table at `key`; absent fields keep their default."""
    table = _table(raw, key, (*checks, "resources", "local"))
    values: dict[str, Any] = {}
    for name, check in checks.items():
        fallback = getattr(default, name)
        value = table.get(name, fallback)
        values[name] = (
            None if value is None else check(f"{key}.{name}", value, fallback)
        )
    return values


def _plain(check: Callable[[str, Any], Any]) -> Check:
    """Adapt a check that suggests its own correction to the `Check` signature."""
    return lambda key, value, _fallback: check(key, value)


def _with_fallback(check: Check, fallback: object) -> Check:
    """Adapt a check of an optional field, whose default None suggests nothing."""
    return lambda key, value, _fallback: check(key, value, fallback)


_NAMESPACE_CHECKS: Mapping[str, Check] = {
    "mirrors": check_label,
    "engine": check_label,
    "runners": check_label,
    "monitoring": _with_fallback(check_label, "monitoring"),
}
_RESOURCE_CHECKS: Mapping[str, Check] = {
    "cpu_request": check_cpu,
    "memory_request": check_memory,
    "memory_limit": check_memory,
    "cpu_limit": _with_fallback(check_cpu, "1"),
}
_MIRROR_CHECKS: Mapping[str, Check] = {
    "image": check_pinned_image,
    "port": check_port,
    "debug_port": check_port,
    "ttl": check_duration,
}


def _check_gateway_image(key: str, value: object, fallback: str) -> str:
    """Check the gateway image, accepting the default placeholder unchanged.

    The placeholder's `OWNER` is upper case on purpose, so that nobody takes it
    for a real image; `deploy` rejects it.
    """
    if value == GATEWAY_IMAGE_PLACEHOLDER:
        return GATEWAY_IMAGE_PLACEHOLDER
    return check_image_reference(key, value, fallback)


_GATEWAY_CHECKS: Mapping[str, Check] = {
    "image": _check_gateway_image,
    "port": check_port,
    "spool_size": check_size,
    "connect_timeout": check_timeout,
    "read_timeout": check_timeout,
    "tag_deadline": check_timeout,
}
_ENGINE_CHECKS: Mapping[str, Check] = {
    "repository": check_image_repository,
    "port": check_port,
    "cache_size": check_size,
    "termination_grace_seconds": check_seconds,
    "metrics_port": _with_fallback(check_port, 9090),
}
_STORAGE_CHECKS: Mapping[str, Check] = {
    "size": check_size,
    "storage_class": _plain(check_subdomain),
}


def _override_keys() -> list[str]:
    """Return every dotted key outside `upstreams` that an override may set."""
    tables: list[tuple[str, Mapping[str, Check]]] = [
        ("namespaces", _NAMESPACE_CHECKS),
        ("storage", _STORAGE_CHECKS),
        ("mirror", _MIRROR_CHECKS),
        ("mirror.resources", _RESOURCE_CHECKS),
        ("gateway", _GATEWAY_CHECKS),
        ("gateway.resources", _RESOURCE_CHECKS),
        ("engine", _ENGINE_CHECKS),
        ("engine.resources", _RESOURCE_CHECKS),
    ]
    keys = [f"{prefix}.{name}" for prefix, checks in tables for name in checks]
    return [*keys, "storage.local.node", "storage.local.path", "cluster_domain"]


# --- building the tree --------------------------------------------------------


def _build_settings(raw: Mapping[str, Any]) -> Settings:
    top = (
        "namespaces",
        "cluster_domain",
        "upstreams",
        "storage",
        "mirror",
        "gateway",
        "engine",
    )
    _reject_unknown("", raw, top)
    domain = check_subdomain(
        "cluster_domain", raw.get("cluster_domain", "cluster.local")
    )
    settings = Settings(
        namespaces=Namespaces(
            **_fields("namespaces", raw, Namespaces(), _NAMESPACE_CHECKS)
        ),
        cluster_domain=domain,
        upstreams=_build_upstreams(raw),
        storage=_build_storage(raw),
        mirror=_build_mirror(raw),
        gateway=_build_gateway(raw),
        engine=_build_engine(raw),
    )
    _check_mirror_addresses(settings)
    _check_pod_ports(settings)
    _check_namespaces(settings.namespaces)
    return settings


def _build_resources(raw: Mapping[str, Any], key: str, default: Resources) -> Resources:
    return Resources(**_fields(key, raw, default, _RESOURCE_CHECKS))


def _build_mirror(raw: Mapping[str, Any]) -> Mirror:
    default = Mirror()
    values = _fields("mirror", raw, default, _MIRROR_CHECKS)
    resources = _build_resources(raw, "mirror.resources", default.resources)
    mirror = Mirror(**values, resources=resources)
    if mirror.port == mirror.debug_port:
        port = mirror.debug_port
        _fail(f"mirror.debug_port {port} equals mirror.port; use {port + 1}")
    return mirror


def _build_gateway(raw: Mapping[str, Any]) -> Gateway:
    default = Gateway()
    values = _fields("gateway", raw, default, _GATEWAY_CHECKS)
    resources = _build_resources(raw, "gateway.resources", default.resources)
    return Gateway(**values, resources=resources)


def _build_engine(raw: Mapping[str, Any]) -> Engine:
    default = Engine()
    values = _fields("engine", raw, default, _ENGINE_CHECKS)
    resources = _build_resources(raw, "engine.resources", default.resources)
    engine = Engine(**values, resources=resources)
    if engine.metrics_port == engine.port:
        port = engine.port
        _fail(f"engine.metrics_port {port} equals engine.port; use {port + 1}")
    return engine


def _build_storage(raw: Mapping[str, Any]) -> Storage:
    values = _fields("storage", raw, Storage(), _STORAGE_CHECKS)
    local = None
    if "local" in _table(raw, "storage", (*_STORAGE_CHECKS, "local")):
        table = _table(raw, "storage.local", ("node", "path"))
        for name in ("node", "path"):
            if name not in table:
                _fail(
                    f"storage.local.{name} is missing; set the node and its directory"
                )
        path = check_absolute_path("storage.local.path", table["path"], "/srv/mirror")
        local = LocalVolume(check_subdomain("storage.local.node", table["node"]), path)
    if local is not None and values["storage_class"] is not None:
        _fail("storage.storage_class and storage.local exclude each other; remove one")
    return Storage(**values, local=local)


def _build_upstreams(raw: Mapping[str, Any]) -> tuple[Upstream, ...]:
    tables = raw.get("upstreams")
    if not isinstance(tables, dict) or not tables:
        _fail(
            'upstreams is empty; add at least one, such as [upstreams."docker.io"]'
            ' url = "https://registry-1.docker.io"'
        )
    spellings: dict[str, str] = {}
    for name in tables:
        first = spellings.setdefault(name.lower(), name)
        if first != name:
            _fail(f"upstreams {first!r} and {name!r} name one registry; keep {first!r}")
    upstreams = [_build_upstream(name, table) for name, table in tables.items()]
    _check_duplicates(upstreams)
    return tuple(sorted(upstreams, key=lambda upstream: upstream.registry))


def _build_upstream(name: str, table: object) -> Upstream:
    key = f"upstreams.{name}"
    if not isinstance(table, dict):
        _fail(f'{key} must be a table such as {{ url = "https://{name}" }}')
    _reject_unknown(key, table, ("url", "mirror", "credentials", "size"))
    registry = check_host_port("upstream", name.lower(), "registry.example.com")
    if registry in _REGISTRY_ALIASES:
        _fail(
            f"upstreams key {name!r} is an alias; use {_REGISTRY_ALIASES[registry]!r}"
        )
    expected = KNOWN_REGISTRIES.get(registry, f"https://{registry}")
    if "url" not in table and registry not in KNOWN_REGISTRIES:
        _fail(f"{key}.url is missing; use {expected!r}")
    url = check_url(f"{key}.url", table.get("url", expected), expected)
    _check_url_matches_registry(key, registry, url, expected)
    mirror = table.get("mirror")
    size = table.get("size")
    return Upstream(
        registry=registry,
        url=url,
        mirror=None if mirror is None else check_host_port("mirror host", mirror),
        credentials=_build_credentials(f"{key}.credentials", table.get("credentials")),
        size=None if size is None else check_size(f"{key}.size", size, "50Gi"),
    )


def _build_credentials(key: str, table: object) -> Credentials | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        # Not echoed: a string here could be the password itself.
        _fail(f'{key} must name a Secret, as in {{ secret = "NAME" }}, not a value')
    _reject_unknown(key, table, ("secret", "username_key", "password_key"))
    if "secret" not in table:
        _fail(f"{key}.secret is missing; use the name of the Secret with the login")
    return Credentials(
        secret=check_subdomain(f"{key}.secret", table["secret"]),
        username_key=check_secret_key(
            f"{key}.username_key", table.get("username_key", "username")
        ),
        password_key=check_secret_key(
            f"{key}.password_key", table.get("password_key", "password")
        ),
    )


# --- rules across values ------------------------------------------------------


def _check_url_matches_registry(
    key: str, registry: str, url: str, expected: str
) -> None:
    """Reject an upstream URL that is the endpoint of another well-known registry.

    One distribution instance proxies exactly one remote, so a `ghcr.io` entry
    with Docker Hub's URL would send ghcr.io paths to Docker Hub and fail.
    """
    host = url.split("://", 1)[1]
    if host == "docker.io":
        _fail(f"{key}.url {url!r} serves no registry API; use {expected!r}")
    for other, endpoint in KNOWN_REGISTRIES.items():
        if other != registry and endpoint.split("://", 1)[1] == host:
            _fail(
                f"{key}.url {url!r} is the {other} registry, so this mirror would"
                f" proxy {other}, not {registry}; use {expected!r}"
            )


def _check_duplicates(upstreams: list[Upstream]) -> None:
    by_url: dict[str, Upstream] = {}
    by_slug: dict[str, Upstream] = {}
    for upstream in upstreams:
        first = by_url.setdefault(upstream.url, upstream)
        if first is not upstream:
            _fail(
                f"upstreams {first.registry!r} and {upstream.registry!r} both proxy"
                f" {upstream.url!r}; remove {upstream.registry!r}"
            )
        first = by_slug.setdefault(upstream.slug, upstream)
        if first is not upstream:
            _fail(
                f"upstreams {first.registry!r} and {upstream.registry!r} are the same"
                f" registry or share the name 'mirror-{upstream.slug}'; keep one"
            )
        if len(f"mirror-{upstream.slug}") > 63:
            _fail(f"upstream {upstream.registry!r} is too long for a Kubernetes name")


# Namespaces that other workloads share: render would label them with a Pod
# Security level and deploy would apply that label to everything in them.
_SHARED_NAMESPACES = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease"}
)


def _check_namespaces(namespaces: Namespaces) -> None:
    """Reject shared namespaces and namespaces that two roles would share.

    The NetworkPolicies tell the runners, the engine and the mirrors apart by
    namespace, and each namespace gets its own Pod Security level.
    """
    roles = {
        "namespaces.mirrors": namespaces.mirrors,
        "namespaces.engine": namespaces.engine,
        "namespaces.runners": namespaces.runners,
    }
    for key, name in roles.items():
        if name in _SHARED_NAMESPACES:
            _fail(
                f"{key} {name!r} is shared with other workloads; use its own "
                f"namespace, such as {Namespaces().__dict__[key.split('.')[1]]!r}"
            )
    seen: dict[str, str] = {}
    for key, name in roles.items():
        if name in seen:
            _fail(
                f"{seen[name]} and {key} are both {name!r}; give each its own "
                "namespace, since the NetworkPolicies tell them apart by it"
            )
        seen[name] = key


def _check_pod_ports(settings: Settings) -> None:
    """Reject a gateway port that a mirror container already listens on.

    The gateway runs in the mirror's pod, and the containers of a pod share
    one network namespace.
    """
    port = settings.gateway.port
    taken = {
        settings.mirror.port: "mirror.port",
        settings.mirror.debug_port: "mirror.debug_port",
    }
    if port in taken:
        default = Gateway().port
        free = next(p for p in range(default, default + 3) if p not in taken)
        _fail(f"gateway.port {port} equals {taken[port]}; use {free}")


def _check_mirror_addresses(settings: Settings) -> None:
    """Reject two registries that use one mirror: it proxies one upstream only."""
    owners: dict[str, Upstream] = {}
    registries = {upstream.registry for upstream in settings.upstreams}
    for upstream in sorted(settings.upstreams, key=lambda u: u.mirror is not None):
        address = settings.mirror_address(upstream)
        if address in registries:
            # The engine config keys registries and mirrors by host, so the
            # mirror's entry would replace the registry's own entry.
            _fail(
                f"mirror host {address!r} of upstreams.{upstream.registry} is an"
                f" upstream registry, not a mirror;"
                f" use {settings.service_address(upstream)!r}"
            )
        owner = owners.setdefault(address, upstream)
        if owner is upstream:
            continue
        _fail(
            f"mirror host {address!r} of upstreams.{upstream.registry} is the mirror"
            f" of {owner.registry}, and one mirror proxies exactly one upstream;"
            f" use {settings.service_address(upstream)!r}"
        )
