"""Check that the engine's `engine.json` sends each upstream through its mirror.

The engine uses a mirror only when the upstream's entry lists it. A
plain-HTTP mirror also needs `"http": true` on its own entry. Otherwise the
engine dials the mirror over HTTPS, fails, and pulls from the upstream
without a warning (`engine/server/registryhosts.go` in Dagger v0.21.8).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["EngineRoute", "check_engine_config"]


@dataclass(frozen=True)
class EngineRoute:
    """Route by which the engine pulls from one upstream registry."""

    registry: str
    uses_mirror: bool
    detail: str


def check_engine_config(text: str, mirrors: Mapping[str, str]) -> list[EngineRoute]:
    """Check `engine.json` text against the expected mirror `host:port` per upstream."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        detail = f"engine.json is not valid JSON ({exc.msg}); the engine will not start"
        return [EngineRoute(registry, False, detail) for registry in sorted(mirrors)]
    registries = config.get("registries") if isinstance(config, dict) else None
    if not isinstance(registries, dict):
        registries = {}
    return [
        _route(registry, address, registries)
        for registry, address in sorted(mirrors.items())
    ]


def _route(
    registry: str, address: str, registries: Mapping[str, object]
) -> EngineRoute:
    entry = registries.get(registry)
    listed = entry.get("mirrors") if isinstance(entry, dict) else None
    if not isinstance(listed, list) or address not in listed:
        shown = ", ".join(str(item) for item in listed or []) or "no mirror"
        detail = (
            f"not through its mirror: engine.json lists {shown}, expected {address}"
        )
        return EngineRoute(registry, False, detail)
    own = registries.get(address)
    if not (isinstance(own, dict) and own.get("http") is True):
        detail = (
            f'mirror {address} is listed, but its own entry lacks "http": true, '
            "so the engine dials it over HTTPS and falls back to the upstream"
        )
        return EngineRoute(registry, False, detail)
    return EngineRoute(registry, True, f"through {address} (plain HTTP)")
