from pathlib import Path

import pytest

from main.errors import InvalidReferenceError
from main.warm.discover import discover_images, parse_images

WORKFLOW = """
jobs:
  build:
    runs-on: k8s-home-runners
    container: node:20-bookworm
    services:
      db:
        image: postgres:16
      cache:
        image: ${{ matrix.cache }}
    steps:
      - uses: docker://alpine:3.20
      - uses: actions/checkout@v4
  other:
    container:
      image: ghcr.io/org/builder:1.2
"""

DOCKERFILE = """
ARG BASE=debian:bookworm
FROM --platform=$BUILDPLATFORM golang:1.23 AS build
FROM build AS test
FROM ${BASE}
FROM scratch
FROM quay.io/prometheus/busybox:latest
"""

MODULE = """
BASE_IMAGE = "docker.io/library/debian:bookworm-slim"
ctr = dag.container().from_("python:3.12-slim")
"""


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(WORKFLOW)
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text(MODULE)
    ignored = tmp_path / ".venv" / "lib"
    ignored.mkdir(parents=True)
    (ignored / "x.py").write_text('IMAGE_IMAGE = "should-not:appear"\n')
    return tmp_path


def test_discover_finds_every_source(repository: Path) -> None:
    found, _ = discover_images(repository)

    names = sorted(str(item.reference) for item in found)
    assert names == [
        "docker.io/library/alpine:3.20",
        "docker.io/library/debian:bookworm-slim",
        "docker.io/library/golang:1.23",
        "docker.io/library/node:20-bookworm",
        "docker.io/library/postgres:16",
        "docker.io/library/python:3.12-slim",
        "ghcr.io/org/builder:1.2",
        "quay.io/prometheus/busybox:latest",
    ]


def test_discover_reports_variables(repository: Path) -> None:
    _, skipped = discover_images(repository)

    texts = sorted(skip.text for skip in skipped)
    assert texts == ["${BASE}", "${{ matrix.cache }}"]
    assert all(skip.reason == "contains a variable" for skip in skipped)


def test_discover_skips_stages_and_scratch(repository: Path) -> None:
    found, _ = discover_images(repository)

    names = {item.reference.repository for item in found}
    assert "library/build" not in names
    assert "library/scratch" not in names


def test_this_repository_has_images() -> None:
    root = Path(__file__).resolve().parents[2]

    found, _ = discover_images(root)

    assert any(item.source.startswith("src/main/") for item in found)


def test_parse_images_rejects_bad_reference() -> None:
    with pytest.raises(InvalidReferenceError, match="UPPER"):
        parse_images(["UPPER:case"])


def test_parse_images_removes_duplicates() -> None:
    found = parse_images(["alpine", "docker.io/library/alpine:latest"])

    assert len(found) == 1
