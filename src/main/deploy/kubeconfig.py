"""Check a kubeconfig file before kubectl uses it, so a bad one fails in one line.

Only the structure is checked: that the file parses, names a current context
and that the context points at a cluster with a server. Credentials are never
read into messages or logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from main.errors import UsageError

__all__ = ["KubeconfigTarget", "check_kubeconfig", "read_kubeconfig"]

_FIX = "pass a kubeconfig exported with `kubectl config view --minify --raw`"


@dataclass(frozen=True)
class KubeconfigTarget:
    """The context that kubectl will use and the API server it points at."""

    context: str
    cluster: str
    server: str


def read_kubeconfig(path: Path) -> KubeconfigTarget:
    """Read and check the kubeconfig at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"kubeconfig {str(path)!r} not found: {_FIX}"
        raise UsageError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.__class__.__name__
        msg = f"kubeconfig {str(path)!r} cannot be read ({reason}): {_FIX}"
        raise UsageError(msg) from exc
    return check_kubeconfig(text, str(path))


def check_kubeconfig(text: str, source: str = "kubeconfig") -> KubeconfigTarget:
    """Check kubeconfig text and return its current context's target.

    Raises UsageError for an empty file, text that is not a YAML mapping, a
    missing or unknown current-context, or a context without a cluster server.
    """
    if not text.strip():
        msg = f"kubeconfig {source!r} is empty: {_FIX}"
        raise UsageError(msg)
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        # The parser's message may quote lines of the file, which can hold tokens.
        msg = f"kubeconfig {source!r} is not valid YAML: {_FIX}"
        raise UsageError(msg) from None
    if not isinstance(config, Mapping) or config.get("kind", "Config") != "Config":
        msg = f"kubeconfig {source!r} is not a kubeconfig (kind: Config): {_FIX}"
        raise UsageError(msg)

    context_name = config.get("current-context")
    if not isinstance(context_name, str) or not context_name:
        msg = (
            f"kubeconfig {source!r} has no current-context: set one with "
            "`kubectl config use-context NAME`, then export it again"
        )
        raise UsageError(msg)
    context = _named(config, "contexts", "context", context_name)
    if context is None:
        msg = (
            f"kubeconfig {source!r} names current-context {context_name!r}, "
            f"which is not in its contexts: {_FIX}"
        )
        raise UsageError(msg)

    cluster_name = context.get("cluster")
    cluster = _named(config, "clusters", "cluster", cluster_name)
    server = cluster.get("server") if cluster is not None else None
    if not isinstance(server, str) or not server:
        msg = (
            f"kubeconfig {source!r}: context {context_name!r} has no cluster "
            f"with a server (cluster {cluster_name!r}): {_FIX}"
        )
        raise UsageError(msg)
    return KubeconfigTarget(context_name, str(cluster_name), server)


def _named(
    config: Mapping[str, Any], section: str, field: str, name: object
) -> Mapping[str, Any] | None:
    """Return the `field` mapping of the entry called `name` in a kubeconfig list."""
    entries = config.get(section)
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            value = entry.get(field)
            return value if isinstance(value, Mapping) else None
    return None
