"""Render the configuration file of a CNCF distribution registry.

The same renderer serves the embedded default on this machine (a plain upstream
registry and the mirror) and the ConfigMap of the mirrors in the cluster. It is
pure: it returns a dict or YAML text and never touches files or the network.

Facts about distribution that shape the output, checked against its source at
tags v2.8.2 and v3.0.0 (github.com/distribution/distribution):

- `proxy.ttl` exists only in v3. Version 2.8 ignores the key without an error
  and always expires cached content after 168h, so a TTL for a 2.8 target is
  rejected here.
- The proxy scheduler can remove expired content only when
  `storage.delete.enabled` is true, so every proxy config sets it.
- `storage.cache.blobdescriptor: inmemory` keeps descriptors of blobs that the
  proxy scheduler has already removed, and clients then get "blob unknown" or
  empty bodies, so a proxy never gets it. Reports:
  https://github.com/distribution/distribution/issues/1356 and
  https://github.com/distribution/distribution/issues/2367
- The debug server on `http.debug.addr` serves `GET /debug/health` without
  authentication in both versions: 200 with `{}` while every health check
  passes, 503 otherwise. It also serves `http.debug.prometheus` metrics (at
  `/metrics` by default) in both 2.8.2 and v3.
- Upstream credentials are never written into the config. Distribution reads
  the environment variables `REGISTRY_PROXY_USERNAME` and
  `REGISTRY_PROXY_PASSWORD` as overrides of `proxy.username` and
  `proxy.password`, so a deployment sets them from a Secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NoReturn
from urllib.parse import urlsplit

import yaml

from main.errors import SettingsError

__all__ = [
    "HEALTH_PATH",
    "LOG_LEVELS",
    "METRICS_PATH",
    "ProxyConfig",
    "dump_distribution_config",
    "normalize_remote_url",
    "render_distribution_config",
]

HEALTH_PATH = "/debug/health"
"""Path on the debug address that returns 200 without authentication."""

METRICS_PATH = "/metrics"
"""Path of the Prometheus metrics on the debug address, when they are enabled."""

LOG_LEVELS = ("error", "warn", "info", "debug")

# A Go time.Duration as time.ParseDuration accepts it, without a sign: "0",
# "168h", "1h30m", "1.5h". Distribution parses proxy.ttl with it.
_DURATION = re.compile(r"0|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_LISTEN_ADDRESS = re.compile(r"(?P<host>[^\s:]*|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})")


@dataclass(frozen=True)
class ProxyConfig:
    """Settings of one distribution registry, as a mirror or a plain registry.

    `remote_url` is the upstream a mirror pulls through to, such as
    `https://registry-1.docker.io`; None renders a plain registry that accepts
    pushes (the local upstream of the embedded default). Addresses use Go's
    `host:port` form, where an empty host listens on every interface. `ttl` is
    a Go duration such as `168h` (v3 only, `0` never expires).
    `blob_descriptor_cache` may be `inmemory` only for a plain registry.
    """

    remote_url: str | None
    listen_address: str = ":5000"
    storage_root: str = "/var/lib/registry"
    target_version: Literal["2.8", "3"] = "3"
    ttl: str | None = None
    debug_address: str | None = ":5001"
    log_level: str = "info"
    read_only: bool = False
    prometheus: bool = False
    blob_descriptor_cache: Literal["inmemory"] | None = None
    storage_health_interval: str = "10s"


def render_distribution_config(config: ProxyConfig) -> dict[str, object]:
    """Validate `config` and build the distribution config as a mapping.

    Raises `SettingsError` with the bad value and a fix when a setting is
    invalid or cannot work with the target version.
    """
    _validate(config)

    document: dict[str, object] = {
        "version": "0.1",
        "log": {"level": config.log_level, "formatter": "text"},
        "storage": _storage_section(config),
        "http": _http_section(config),
        "health": {
            "storagedriver": {
                "enabled": True,
                "interval": config.storage_health_interval,
                "threshold": 3,
            }
        },
    }
    if config.remote_url is not None:
        document["proxy"] = _proxy_section(config.remote_url, config.ttl)
    return document


def dump_distribution_config(config: ProxyConfig) -> str:
    """Render `config` as YAML text that is identical for identical input."""
    document = render_distribution_config(config)
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def normalize_remote_url(url: str) -> str:
    """Return `url` as `scheme://host[:port]`, or raise `SettingsError`.

    A proxy upstream is the root of a registry: distribution appends `/v2/`
    itself, so a path, query or user info would never reach the upstream as
    intended. The error message shows the corrected value.
    """
    _reject_login(url.strip())
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        # urlsplit rejects unbalanced IPv6 brackets, as in "http://[oops".
        _raise_bad_url(url, None, "is not a valid URL")
    netloc = parts.netloc.rpartition("@")[2]
    if not parts.scheme and not parts.netloc:
        # "registry-1.docker.io/v2" parses as a path without a host.
        host = parts.path.split("/", 1)[0]
        _raise_bad_url(url, f"https://{host}" if host else None, "has no scheme")
    if parts.scheme not in ("http", "https"):
        _raise_bad_url(url, f"https://{netloc}" if netloc else None, "has no http(s)")
    if not parts.hostname:
        _raise_bad_url(url, None, "has no host")
    corrected = f"{parts.scheme}://{netloc}"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        _raise_bad_url(url, corrected, "has a path, query or fragment")
    return corrected


def _reject_login(url: str) -> None:
    """Raise SettingsError, quoting only the host, if `url` has an '@' in it.

    A registry root never contains '@', so any '@' ends a login. The check
    works on the text, because a password with '?', '#' or '/' splits the
    URL in unexpected places and would leak into parsed parts.
    """
    scheme = _SCHEME.match(url)
    start = scheme.end() if scheme else 0
    if "@" not in url[start:]:
        return
    host = url.rpartition("@")[2].split("/", 1)[0]
    prefix = scheme.group() if scheme and scheme.group() == "http://" else "https://"
    corrected = f"{prefix}{host}" if host else "https://HOST[:PORT]"
    msg = (
        "invalid remote URL: credentials must not be in the URL; use "
        f"{corrected!r} and set REGISTRY_PROXY_USERNAME and "
        "REGISTRY_PROXY_PASSWORD in the registry's environment"
    )
    raise SettingsError(msg)


def _raise_bad_url(url: str, corrected: str | None, problem: str) -> NoReturn:
    # _reject_login has run, so `url` contains no login to keep out of messages.
    if corrected is None:
        msg = f"invalid remote URL {url!r}: it {problem}; use https://HOST[:PORT]"
    else:
        msg = f"invalid remote URL {url!r}: it {problem}; use {corrected!r}"
    raise SettingsError(msg)


def _validate(config: ProxyConfig) -> None:
    if config.remote_url is not None:
        normalize_remote_url(config.remote_url)
    if config.target_version not in ("2.8", "3"):
        msg = (
            f"invalid distribution version {config.target_version!r}; use '2.8' or '3'"
        )
        raise SettingsError(msg)
    _validate_ttl(config)
    _validate_address(config.listen_address, "listen address")
    if config.debug_address is not None:
        _validate_address(config.debug_address, "debug address")
    if config.prometheus and config.debug_address is None:
        msg = "prometheus metrics need a debug address; set one such as ':5001'"
        raise SettingsError(msg)
    if config.log_level not in LOG_LEVELS:
        msg = (
            f"invalid log level {config.log_level!r}; use one of "
            f"{', '.join(LOG_LEVELS)}"
        )
        raise SettingsError(msg)
    if not config.storage_root.startswith("/"):
        msg = (
            f"invalid storage root {config.storage_root!r}; "
            "use an absolute path such as '/var/lib/registry'"
        )
        raise SettingsError(msg)
    if not _DURATION.fullmatch(config.storage_health_interval):
        msg = (
            f"invalid health check interval {config.storage_health_interval!r}; "
            "use a Go duration such as '10s'"
        )
        raise SettingsError(msg)
    if config.remote_url is not None and config.blob_descriptor_cache is not None:
        msg = (
            f"blob descriptor cache {config.blob_descriptor_cache!r} is invalid "
            "for a proxy: it keeps descriptors of expired blobs and clients get "
            "'blob unknown'; remove the cache setting"
        )
        raise SettingsError(msg)


def _validate_ttl(config: ProxyConfig) -> None:
    if config.ttl is None:
        return
    if config.remote_url is None:
        msg = f"invalid ttl {config.ttl!r}: only a proxy expires content; remove it"
        raise SettingsError(msg)
    if config.target_version == "2.8":
        msg = (
            f"proxy ttl {config.ttl!r} needs distribution 3: version 2.8 ignores "
            "proxy.ttl and always keeps cached content for 168h; remove the ttl "
            "or target version 3"
        )
        raise SettingsError(msg)
    if not _DURATION.fullmatch(config.ttl):
        msg = (
            f"invalid proxy ttl {config.ttl!r}; use a Go duration such as '168h', "
            "or '0' to never expire"
        )
        raise SettingsError(msg)


def _validate_address(address: str, what: str) -> None:
    match = _LISTEN_ADDRESS.fullmatch(address)
    if match is None or not 1 <= int(match["port"]) <= 65535:
        msg = (
            f"invalid {what} {address!r}; use HOST:PORT such as '127.0.0.1:5000' "
            "or ':5000' for every interface"
        )
        raise SettingsError(msg)


def _storage_section(config: ProxyConfig) -> dict[str, object]:
    storage: dict[str, object] = {
        "filesystem": {"rootdirectory": config.storage_root},
        "delete": {"enabled": True},
    }
    if config.blob_descriptor_cache is not None:
        storage["cache"] = {"blobdescriptor": config.blob_descriptor_cache}
    if config.read_only:
        storage["maintenance"] = {"readonly": {"enabled": True}}
    return storage


def _http_section(config: ProxyConfig) -> dict[str, object]:
    http: dict[str, object] = {
        "addr": config.listen_address,
        "headers": {"X-Content-Type-Options": ["nosniff"]},
    }
    if config.debug_address is not None:
        debug: dict[str, object] = {"addr": config.debug_address}
        if config.prometheus:
            debug["prometheus"] = {"enabled": True, "path": METRICS_PATH}
        http["debug"] = debug
    return http


def _proxy_section(remote_url: str, ttl: str | None) -> dict[str, object]:
    proxy: dict[str, object] = {"remoteurl": normalize_remote_url(remote_url)}
    if ttl is not None:
        proxy["ttl"] = ttl
    return proxy
