"""Render the Dagger engine's own config file, `engine.json`.

Facts from Dagger's source at tag v0.21.8 and on its main branch of August
2026, which agree on everything below:

- The engine reads `/etc/dagger/engine.json` at start-up
  (`engine/config/path.go`). A missing file means defaults; an unknown key
  stops the engine, because `engine/config/load.go` decodes with
  `DisallowUnknownFields`.
- `registries` maps a registry host to `mirrors`, `http`, `insecure` and
  `ca` (`engine/config/config.go`, type `RegistryConfig`).
- For each mirror host the engine uses that host's own entry, and falls back
  to the upstream's entry only when the mirror has none
  (`engine/server/registryhosts.go`). So plain HTTP is set on the mirror's
  entry: set on `docker.io`, it would make the engine talk plain HTTP to
  Docker Hub whenever the mirror fails. A mirror written as a URL loses its
  scheme there, which is why entries are bare `host:port`.
"""

from __future__ import annotations

import json
from typing import Any

from main.settings import Settings

__all__ = ["ENGINE_CONFIG_PATH", "dump_engine_config", "render_engine_config"]

# NOTE: the source snapshot read had no tag v0.21.11 (the pinned version), so
# the format is assumed unchanged from v0.21.8, as it is on the main branch.
ENGINE_CONFIG_PATH = "/etc/dagger/engine.json"


def render_engine_config(settings: Settings) -> dict[str, Any]:
    """Build `engine.json`: one mirror per upstream, plain HTTP on the mirror only."""
    registries: dict[str, Any] = {}
    for upstream in settings.upstreams:
        address = settings.mirror_address(upstream)
        registries[upstream.registry] = {"mirrors": [address]}
        registries[address] = {"http": True}
    return {"registries": registries}


def dump_engine_config(settings: Settings) -> str:
    """Render `engine.json` as text that is identical for identical settings."""
    return json.dumps(render_engine_config(settings), indent=2) + "\n"
