"""Check a distribution filesystem storage tree for corrupt or dangling content.

The layout is that of distribution's filesystem driver (2.x and 3):
`docker/registry/v2/blobs/sha256/AB/HEX/data` holds content, and
`repositories/NAME/_layers/sha256/HEX/link` and
`repositories/NAME/_manifests/revisions/sha256/HEX/link` tie a repository to it.
Unfinished uploads sit under `repositories/NAME/_uploads/`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

V2_ROOT = Path("docker/registry/v2")
_CHUNK = 1 << 20


@dataclass
class StorageReport:
    """What a scan of one storage tree found."""

    blobs: dict[str, int] = field(default_factory=dict)
    """Digest of every blob data file, with its size."""
    corrupt_blobs: list[str] = field(default_factory=list)
    """Blob data files whose content does not hash to their name."""
    links: list[str] = field(default_factory=list)
    """Repository links, as `REPOSITORY DIGEST`."""
    bad_links: list[str] = field(default_factory=list)
    """Links whose content is not the digest of their folder."""
    dangling_links: list[str] = field(default_factory=list)
    """Links to a digest without a blob data file."""
    upload_bytes: int = 0
    """Bytes left in unfinished uploads."""


def sha256_file(path: Path) -> str:
    """Return the sha256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(_CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def scan_storage(storage_root: Path) -> StorageReport:
    """Hash every blob and check every repository link under `storage_root`."""
    report = StorageReport()
    root = storage_root / V2_ROOT
    for data in sorted(root.glob("blobs/sha256/*/*/data")):
        name = f"sha256:{data.parent.name}"
        report.blobs[name] = data.stat().st_size
        if sha256_file(data) != name:
            report.corrupt_blobs.append(name)
    repositories = root / "repositories"
    patterns = ("_layers/sha256/*/link", "_manifests/revisions/sha256/*/link")
    for pattern in patterns:
        for link in sorted(repositories.glob(f"**/{pattern}")):
            _check_link(report, repositories, link)
    for upload in repositories.glob("**/_uploads/*/data"):
        report.upload_bytes += upload.stat().st_size
    return report


def _check_link(report: StorageReport, repositories: Path, link: Path) -> None:
    expected = f"sha256:{link.parent.name}"
    parts = link.relative_to(repositories).parts
    marker = "_layers" if "_layers" in parts else "_manifests"
    repository = "/".join(parts[: parts.index(marker)])
    entry = f"{repository} {expected}"
    report.links.append(entry)
    if link.read_text().strip() != expected:
        report.bad_links.append(entry)
    elif expected not in report.blobs:
        report.dangling_links.append(entry)
