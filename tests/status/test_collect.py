"""Tests of which mirrors `status` reads and which registry names it accepts."""

from __future__ import annotations

import pytest

from main.errors import UsageError
from main.settings import parse_settings
from main.status.collect import check_registries, upstreams_to_read

SETTINGS = parse_settings({}, {"upstreams": "docker.io,ghcr.io,quay.io"})
ALL = ["docker.io", "ghcr.io", "quay.io"]


@pytest.mark.parametrize(
    ("kubeconfig_given", "named", "expected"),
    [
        pytest.param(False, [], ALL, id="no-urls-reads-all"),
        pytest.param(False, ["ghcr.io"], ["ghcr.io"], id="urls-read-named-only"),
        pytest.param(True, ["ghcr.io"], ALL, id="kubeconfig-reads-all"),
    ],
)
def test_upstreams_to_read(
    kubeconfig_given: bool, named: list[str], expected: list[str]
) -> None:
    upstreams = upstreams_to_read(
        SETTINGS, kubeconfig_given=kubeconfig_given, named=named
    )

    assert [upstream.registry for upstream in upstreams] == expected


def test_unknown_registry_is_rejected() -> None:
    with pytest.raises(UsageError) as raised:
        check_registries(SETTINGS, ["gcr.io"], "--mirror")

    message = str(raised.value)
    assert "--mirror" in message
    assert "'gcr.io'" in message
    assert "docker.io, ghcr.io, quay.io" in message
