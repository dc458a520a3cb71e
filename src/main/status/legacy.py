"""Explain an old BuildKit-style `buildkitd.toml` mirror setup and what replaces it.

The setup this project grew from mounted a `buildkitd.toml` at
`/etc/buildkit`, listed mirrors as `http://` URLs and sent ghcr.io to the
Docker Hub proxy. Facts about the Dagger engine, checked in Dagger's source
at v0.21.8 (the file format is unchanged in the pinned 0.21.11):

- The engine image's entrypoint starts the engine with
  `--config /etc/dagger/engine.toml` (`toolchains/engine-dev/config.go`), so
  the BuildKit default `/etc/buildkit/buildkitd.toml` is never read. The
  engine's own config file is `/etc/dagger/engine.json`
  (`engine/config/path.go`).
- A mirror written as a URL keeps only its host: the scheme is dropped
  (`extractMirrorHostAndPath` in `engine/server/registryhosts.go`). The
  engine then dials the mirror over HTTPS unless the mirror host's own
  registry entry sets `http = true`. The upstream's entry applies to the
  mirror only when the mirror has no entry of its own, and then the engine
  also sends requests to the upstream itself over plain HTTP.
- A mirror that fails is skipped and the engine pulls from the upstream, so
  every one of these mistakes is silent.

And about CNCF distribution: one proxy serves exactly one upstream
(`proxy.remoteurl`), so a ghcr.io path sent to the Docker Hub proxy is
looked up on Docker Hub and fails.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from main.errors import UsageError

__all__ = [
    "ENGINE_CONFIG_PATH",
    "LEGACY_MOUNT_PATH",
    "Finding",
    "explain_legacy_config",
    "format_findings",
]

ENGINE_CONFIG_PATH = "/etc/dagger/engine.json"
ENGINE_TOML_PATH = "/etc/dagger/engine.toml"
LEGACY_MOUNT_PATH = "/etc/buildkit/buildkitd.toml"


@dataclass(frozen=True)
class Finding:
    """One thing the old config did wrong and what replaces it."""

    problem: str
    replacement: str


def explain_legacy_config(
    text: str,
    mirrors: Mapping[str, str],
    *,
    mount_path: str = LEGACY_MOUNT_PATH,
    source: str = "buildkitd.toml",
) -> list[Finding]:
    """Explain what an old `buildkitd.toml` did wrong.

    `mirrors` maps each upstream registry to the `host:port` of the mirror
    that registry-mirror renders for it. `mount_path` is the path at which the
    old file was mounted in the engine container.
    """
    registries = _registries(text, source)
    findings: list[Finding] = []
    if mount_path != ENGINE_TOML_PATH:
        findings.append(_unread_path(mount_path))
    for registry, entry in sorted(registries.items()):
        findings.extend(_entry_findings(registry, entry, registries, mirrors))
    findings.extend(_shared_mirrors(registries, mirrors))
    findings.extend(_missing_upstreams(registries, mirrors))
    return findings


def format_findings(findings: Sequence[Finding], source: str) -> list[str]:
    """Describe the findings in numbered lines for the status report."""
    if not findings:
        return [f"{source}: nothing wrong found"]
    lines = [f"{source}: {len(findings)} problems"]
    for number, finding in enumerate(findings, start=1):
        lines.append(f"  {number}. {finding.problem}")
        lines.append(f"     instead: {finding.replacement}")
    return lines


def _registries(text: str, source: str) -> dict[str, Mapping[str, Any]]:
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = (
            f"legacy config {source!r} is not valid TOML ({exc}); "
            "pass the file as it was mounted"
        )
        raise UsageError(msg) from None
    registries = config.get("registry", {})
    if not isinstance(registries, Mapping):
        msg = f"legacy config {source!r}: [registry] is not a table of registries"
        raise UsageError(msg)
    return {
        str(name): entry
        for name, entry in registries.items()
        if isinstance(entry, Mapping)
    }


def _unread_path(mount_path: str) -> Finding:
    return Finding(
        problem=(
            f"mounted at {mount_path}, which the Dagger engine never reads: its "
            f"image starts the engine with --config {ENGINE_TOML_PATH}, so no "
            "mirror in this file was ever used"
        ),
        replacement=(
            f"engine.json in the ConfigMap dagger-engine, mounted at "
            f"{ENGINE_CONFIG_PATH}, the file the engine reads"
        ),
    )


def _entry_findings(
    registry: str,
    entry: Mapping[str, Any],
    registries: Mapping[str, Mapping[str, Any]],
    mirrors: Mapping[str, str],
) -> list[Finding]:
    findings: list[Finding] = []
    for raw in entry.get("mirrors") or []:
        host = _host(str(raw))
        # The engine uses the mirror's own entry, or the upstream's if it has none.
        effective = registries.get(host, entry)
        if str(raw).startswith("http://") and not effective.get("http"):
            findings.append(_url_mirror(registry, str(raw), host, mirrors))
    if entry.get("http") and entry.get("mirrors"):
        address = mirrors.get(registry, "MIRROR:5000")
        findings.append(
            Finding(
                problem=(
                    f"http = true is set on {registry}, the upstream: the engine "
                    f"then also talks plain HTTP to {registry} itself whenever "
                    "the mirror fails"
                ),
                replacement=(
                    "http only on the mirror's own entry, such as "
                    f'"{address}": {{"http": true}}'
                ),
            )
        )
    return findings


def _url_mirror(
    registry: str, raw: str, host: str, mirrors: Mapping[str, str]
) -> Finding:
    scheme = raw.split("://", 1)[0]
    return Finding(
        problem=(
            f"mirror {raw!r} for {registry} is a URL: the engine drops "
            f"{scheme}:// and dials https://{host}, which a plain-HTTP mirror "
            f"cannot answer, so every pull fell back to {registry}"
        ),
        replacement=(
            f'a bare host:port with plain HTTP on its own entry: "{registry}": '
            f'{{"mirrors": ["{mirrors.get(registry, host)}"]}} and '
            f'"{mirrors.get(registry, host)}": {{"http": true}}'
        ),
    )


def _shared_mirrors(
    registries: Mapping[str, Mapping[str, Any]], mirrors: Mapping[str, str]
) -> list[Finding]:
    users: dict[str, list[str]] = {}
    for registry, entry in registries.items():
        for raw in entry.get("mirrors") or []:
            users.setdefault(_host(str(raw)), []).append(registry)
    findings = []
    for host, sharing in sorted(users.items()):
        if len(sharing) < 2:
            continue
        names = ", ".join(sorted(sharing))
        replacement = "; ".join(
            f"{registry} -> {mirrors[registry]}"
            for registry in sorted(sharing)
            if registry in mirrors
        )
        findings.append(
            Finding(
                problem=(
                    f"{names} all use the mirror {host}, but one distribution "
                    "proxy serves exactly one upstream: the others' paths are "
                    "looked up there, fail with 401 or 404, and fall back"
                ),
                replacement="one mirror per upstream: "
                + (replacement or "render one for each"),
            )
        )
    return findings


def _missing_upstreams(
    registries: Mapping[str, Mapping[str, Any]], mirrors: Mapping[str, str]
) -> list[Finding]:
    findings = []
    for registry, address in sorted(mirrors.items()):
        entry = registries.get(registry, {})
        if not entry.get("mirrors"):
            findings.append(
                Finding(
                    problem=f"{registry} has no mirror: its pulls go straight upstream",
                    replacement=f"{registry} -> {address}",
                )
            )
    return findings


def _host(mirror: str) -> str:
    """Return the host[:port] that the engine keeps of a mirror entry."""
    if "://" not in mirror:
        return mirror.rstrip("/")
    return urlsplit(mirror).netloc or mirror
