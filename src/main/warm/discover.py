"""Find the images a repository pulls: workflows, Dockerfiles, Dagger modules.

Pure text scanning with no network access. A reference with a variable in it
(`${{ matrix.image }}`, `$BASE`) cannot be resolved here and is skipped, and
each skip is returned so the caller can report it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from main.errors import InvalidReferenceError
from main.reference import ImageReference, parse_reference

# Folders that never hold the project's own build inputs.
IGNORED_DIRS = frozenset(
    {".git", ".venv", "node_modules", "__pycache__", "sdk", "dist", "build"}
)
MAX_FILE_BYTES = 1_000_000

_FROM = re.compile(
    r"^\s*FROM\s+(?:--platform=\S+\s+)?(?P<image>\S+)", re.IGNORECASE | re.MULTILINE
)
# String constants and from_() calls that name an image in Python sources.
_PYTHON_IMAGE = re.compile(
    r"""(?:from_\(\s*|_IMAGE\s*=\s*)["'](?P<image>[^"'\s]+)["']"""
)
_STAGE = re.compile(
    r"^\s*FROM\s+(?:--platform=\S+\s+)?\S+\s+AS\s+(\S+)", re.IGNORECASE | re.MULTILINE
)
_DOCKER_ACTION = re.compile(r"^docker://(?P<image>\S+)$")


@dataclass(frozen=True)
class FoundImage:
    """An image reference and the file (relative path) that names it."""

    reference: ImageReference
    source: str


@dataclass(frozen=True)
class Skipped:
    """A value that looked like an image but could not be used, and why."""

    text: str
    source: str
    reason: str


def _walk(root: Path) -> Iterator[Path]:
    for path in sorted(root.iterdir()):
        if path.is_dir():
            if path.name not in IGNORED_DIRS and not path.is_symlink():
                yield from _walk(path)
        elif path.is_file() and path.stat().st_size <= MAX_FILE_BYTES:
            yield path


def _workflow_images(document: object) -> Iterator[str]:
    """Yield `container`, `services` and `docker://` images of a workflow."""
    if not isinstance(document, dict):
        return
    jobs = document.get("jobs")
    for job in jobs.values() if isinstance(jobs, dict) else ():
        if not isinstance(job, dict):
            continue
        container = job.get("container")
        if isinstance(container, str):
            yield container
        elif isinstance(container, dict) and isinstance(container.get("image"), str):
            yield container["image"]
        services = job.get("services")
        for service in services.values() if isinstance(services, dict) else ():
            if isinstance(service, dict) and isinstance(service.get("image"), str):
                yield service["image"]
        steps = job.get("steps")
        for step in steps if isinstance(steps, list) else ():
            uses = step.get("uses") if isinstance(step, dict) else None
            match = _DOCKER_ACTION.match(uses) if isinstance(uses, str) else None
            if match:
                yield match.group("image")


def _candidates(text: str, relative: str) -> Iterator[str]:
    name = relative.rsplit("/", 1)[-1].lower()
    if relative.startswith(".github/workflows/") and name.endswith((".yml", ".yaml")):
        try:
            yield from _workflow_images(yaml.safe_load(text))
        except yaml.YAMLError:
            return
    elif name == "dockerfile" or name.endswith((".dockerfile", "containerfile")):
        yield from (match.group("image") for match in _FROM.finditer(text))
    elif name.endswith(".py"):
        yield from (match.group("image") for match in _PYTHON_IMAGE.finditer(text))


def _classify(text: str, source: str, stages: set[str]) -> FoundImage | Skipped | None:
    if text.lower() in stages or text.lower() == "scratch":
        return None
    if "$" in text:
        return Skipped(text, source, "contains a variable")
    try:
        return FoundImage(parse_reference(text), source)
    except InvalidReferenceError as exc:
        return Skipped(text, source, str(exc))


def _stage_names(text: str) -> set[str]:
    """Return Dockerfile stage names (`FROM x AS name`), which are not images."""
    return {match.group(1).lower() for match in _STAGE.finditer(text)}


def discover_images(root: Path) -> tuple[list[FoundImage], list[Skipped]]:
    """Scan `root` for the images it pulls; return them once each, and the skips."""
    found: dict[str, FoundImage] = {}
    skipped: list[Skipped] = []
    for path in _walk(root):
        relative = path.relative_to(root).as_posix()
        content = path.read_text(encoding="utf-8", errors="replace")
        stages = _stage_names(content)
        for text in _candidates(content, relative):
            outcome = _classify(text, relative, stages)
            if isinstance(outcome, FoundImage):
                found.setdefault(str(outcome.reference), outcome)
            elif isinstance(outcome, Skipped):
                skipped.append(outcome)
    return list(found.values()), skipped


def parse_images(texts: Iterable[str], source: str = "--image") -> list[FoundImage]:
    """Parse images given by the user; a bad one raises InvalidReferenceError."""
    found: dict[str, FoundImage] = {}
    for text in texts:
        reference = parse_reference(text)
        found.setdefault(str(reference), FoundImage(reference, source))
    return list(found.values())
