"""Render everything the cluster runs: mirror configs, engine config, manifests.

`render_manifests(settings)` returns the kustomize base as file name to YAML
text; `write_manifests(settings, out_dir)` writes it in one step.
"""

from main.render.kustomize import render_manifests
from main.render.output import write_manifests

__all__ = ["render_manifests", "write_manifests"]
