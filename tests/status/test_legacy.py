"""Tests of the explanation of an old buildkitd.toml mirror setup."""

from __future__ import annotations

import pytest

from main.errors import UsageError
from main.status.legacy import explain_legacy_config, format_findings

MIRRORS = {
    "docker.io": "mirror-docker-io.registry-mirror.svc.cluster.local:5000",
    "ghcr.io": "mirror-ghcr-io.registry-mirror.svc.cluster.local:5000",
}

# The shape of the original blog setup: URLs with http://, ghcr.io sent to
# the Docker Hub proxy, mounted where BuildKit looks for its config.
BLOG_CONFIG = """\
debug = true

[registry."docker.io"]
  mirrors = ["http://registry-cache.registry.svc.cluster.local:5000"]

[registry."ghcr.io"]
  mirrors = ["http://registry-cache.registry.svc.cluster.local:5000"]
"""


def problems(text: str, **options: str) -> list[str]:
    return [f.problem for f in explain_legacy_config(text, MIRRORS, **options)]


def test_blog_setup_has_four_problems() -> None:
    findings = explain_legacy_config(BLOG_CONFIG, MIRRORS)

    assert len(findings) == 4


def test_etc_buildkit_is_not_read() -> None:
    findings = explain_legacy_config(BLOG_CONFIG, MIRRORS)

    assert "never reads" in findings[0].problem
    assert "--config /etc/dagger/engine.toml" in findings[0].problem
    assert "/etc/dagger/engine.json" in findings[0].replacement


def test_engine_toml_path_is_read() -> None:
    found = problems(BLOG_CONFIG, mount_path="/etc/dagger/engine.toml")

    assert not any("never reads" in problem for problem in found)


def test_http_url_mirror_falls_back() -> None:
    findings = explain_legacy_config(BLOG_CONFIG, MIRRORS)

    url = [f for f in findings if "is a URL" in f.problem and "docker.io" in f.problem]
    assert len(url) == 1
    assert "dials https://registry-cache.registry.svc.cluster.local:5000" in (
        url[0].problem
    )
    assert url[0].replacement == (
        'a bare host:port with plain HTTP on its own entry: "docker.io": '
        '{"mirrors": ["mirror-docker-io.registry-mirror.svc.cluster.local:5000"]}'
        ' and "mirror-docker-io.registry-mirror.svc.cluster.local:5000": '
        '{"http": true}'
    )


def test_shared_mirror_is_one_proxy_per_upstream() -> None:
    findings = explain_legacy_config(BLOG_CONFIG, MIRRORS)

    shared = [f for f in findings if "all use the mirror" in f.problem]
    assert len(shared) == 1
    assert shared[0].problem.startswith("docker.io, ghcr.io all use the mirror")
    assert "ghcr.io -> mirror-ghcr-io" in shared[0].replacement


def test_url_with_http_on_mirror_entry_works() -> None:
    text = """\
[registry."docker.io"]
  mirrors = ["http://cache:5000"]
[registry."cache:5000"]
  http = true
"""

    found = problems(text, mount_path="/etc/dagger/engine.toml")

    assert not any("is a URL" in problem for problem in found)


def test_http_on_upstream_entry_is_flagged() -> None:
    text = """\
[registry."docker.io"]
  mirrors = ["cache:5000"]
  http = true
"""

    found = problems(text, mount_path="/etc/dagger/engine.toml")

    assert any("http = true is set on docker.io" in problem for problem in found)


def test_missing_upstream_is_flagged() -> None:
    text = '[registry."docker.io"]\n  mirrors = ["cache:5000"]\n'

    found = problems(text, mount_path="/etc/dagger/engine.toml")

    assert found == ["ghcr.io has no mirror: its pulls go straight upstream"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[registry\n", id="not-toml"),
        pytest.param('registry = "docker.io"\n', id="registry-not-table"),
    ],
)
def test_bad_legacy_config_is_rejected(text: str) -> None:
    with pytest.raises(UsageError, match="legacy config"):
        explain_legacy_config(text, MIRRORS)


def test_findings_are_numbered() -> None:
    findings = explain_legacy_config(BLOG_CONFIG, MIRRORS)

    lines = format_findings(findings, "old.toml")

    assert lines[0] == "old.toml: 4 problems"
    assert lines[1].startswith("  1. mounted at /etc/buildkit/buildkitd.toml")
    assert lines[2].startswith("     instead: engine.json")
