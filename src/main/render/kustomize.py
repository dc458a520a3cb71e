"""Lay the rendered objects out as a kustomize base: files in apply order.

File names start with a number that gives the apply order, and
`kustomization.yaml` lists them in that order: namespaces first, then the
NetworkPolicies, then one file per mirror, then the engine. Applied in this
order, the policies exist before any pod starts. Each file is a stream of
YAML documents with keys in a fixed order, so the same settings always give
byte-identical files.
"""

from __future__ import annotations

from typing import Any

import yaml

from main.render.engine_objects import ENGINE_NAME, render_engine
from main.render.mirrors import mirror_name, render_mirror
from main.render.objects import Manifest
from main.render.policies import render_namespaces, render_network_policies
from main.settings import Settings

__all__ = ["KUSTOMIZATION", "dump_documents", "render_manifests"]

KUSTOMIZATION = "kustomization.yaml"
HEADER = "# Rendered by registry-mirror from its settings file; edit that, not this.\n"


class _Dumper(yaml.SafeDumper):
    """A YAML dumper for manifests: literal blocks, and no anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        """Write shared objects out in full: kubectl users read every field."""
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_documents(documents: list[Manifest]) -> str:
    """Return `documents` as one YAML stream with the rendering header."""
    body = yaml.dump_all(
        documents,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        explicit_start=True,
        width=1000,
    )
    return HEADER + body


def render_manifests(settings: Settings) -> dict[str, str]:
    """Render every file of the kustomize base: file name to YAML text."""
    groups: list[tuple[str, list[Manifest]]] = [
        ("00-namespaces.yaml", render_namespaces(settings)),
        ("10-network-policies.yaml", render_network_policies(settings)),
    ]
    for upstream in settings.upstreams:
        groups.append(
            (f"20-{mirror_name(upstream)}.yaml", render_mirror(settings, upstream))
        )
    groups.append((f"30-{ENGINE_NAME}.yaml", render_engine(settings)))

    files = {name: dump_documents(documents) for name, documents in groups}
    files[KUSTOMIZATION] = _kustomization([name for name, _ in groups])
    return files


def _kustomization(resources: list[str]) -> str:
    document: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }
    return HEADER + yaml.dump(document, Dumper=_Dumper, sort_keys=False)
