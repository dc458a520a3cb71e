"""Tests of the check that engine.json sends each upstream through its mirror."""

from __future__ import annotations

import json

from main.render.engine import dump_engine_config
from main.settings import parse_settings
from main.status.collect import expected_mirrors
from main.status.engine import check_engine_config

MIRROR = "mirror-docker-io.registry-mirror.svc.cluster.local:5000"
EXPECTED = {"docker.io": MIRROR}


def test_rendered_engine_config_uses_every_mirror() -> None:
    settings = parse_settings({})

    routes = check_engine_config(
        dump_engine_config(settings), expected_mirrors(settings)
    )

    assert [route.registry for route in routes] == [
        "docker.io",
        "ghcr.io",
        "quay.io",
        "registry.k8s.io",
    ]
    assert all(route.uses_mirror for route in routes)


def test_missing_mirror_is_a_problem() -> None:
    text = json.dumps({"registries": {"docker.io": {"mirrors": ["other:5000"]}}})

    (route,) = check_engine_config(text, EXPECTED)

    assert not route.uses_mirror
    assert route.detail == (
        f"not through its mirror: engine.json lists other:5000, expected {MIRROR}"
    )


def test_url_mirror_is_not_the_mirror() -> None:
    text = json.dumps({"registries": {"docker.io": {"mirrors": [f"http://{MIRROR}"]}}})

    (route,) = check_engine_config(text, EXPECTED)

    assert not route.uses_mirror


def test_mirror_without_http_falls_back() -> None:
    text = json.dumps({"registries": {"docker.io": {"mirrors": [MIRROR]}}})

    (route,) = check_engine_config(text, EXPECTED)

    assert not route.uses_mirror
    assert 'lacks "http": true' in route.detail


def test_invalid_json_is_reported_for_every_upstream() -> None:
    routes = check_engine_config("{", {"docker.io": MIRROR, "ghcr.io": MIRROR})

    assert len(routes) == 2
    assert all("not valid JSON" in route.detail for route in routes)


def test_empty_config_uses_no_mirror() -> None:
    (route,) = check_engine_config("{}", EXPECTED)

    assert route.detail.startswith(
        "not through its mirror: engine.json lists no mirror"
    )
