"""Tests of the field comparison that decides whether an object needs an update."""

from __future__ import annotations

from decimal import Decimal

import pytest

from main.deploy.fields import changed_fields, owned_fields_removed, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("2Gi", Decimal(2 * 1024**3), id="binary"),
        pytest.param("2048Mi", Decimal(2 * 1024**3), id="binary-other-unit"),
        pytest.param("500m", Decimal("0.5"), id="milli"),
        pytest.param("0.5", Decimal("0.5"), id="plain-decimal"),
        pytest.param("1e3", Decimal(1000), id="exponent"),
        pytest.param("1k", Decimal(1000), id="decimal-suffix"),
        pytest.param("TCP", None, id="not-a-quantity"),
        pytest.param("1.2.3", None, id="version-string"),
    ],
)
def test_parse_quantity(text: str, value: Decimal | None) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("rendered", "live"),
    [
        pytest.param({"cpu": "0.5"}, {"cpu": "500m"}, id="canonical-cpu"),
        pytest.param({"memory": "2048Mi"}, {"memory": "2Gi"}, id="canonical-memory"),
        pytest.param({"port": "8080"}, {"port": 8080}, id="int-or-string"),
        pytest.param({"a": {}}, {"a": {}, "b": 1}, id="server-default"),
    ],
)
def test_equal_values_are_not_changes(
    rendered: dict[str, object], live: dict[str, object]
) -> None:
    assert changed_fields(rendered, live) == []


@pytest.mark.parametrize(
    ("rendered", "live", "paths"),
    [
        pytest.param({"a": True}, {"a": "true"}, [".a"], id="bool-vs-string"),
        pytest.param({"a": 1}, {}, [".a"], id="missing"),
        pytest.param({"a": [1, 2]}, {"a": [1]}, [".a"], id="list-length"),
        pytest.param({"a": [1, 2]}, {"a": [1, 3]}, [".a[1]"], id="list-item"),
        pytest.param(
            {"c": [{"name": "x", "v": 1}]},
            {"c": [{"name": "sidecar"}, {"name": "x", "v": 2}]},
            [".c[name=x].v"],
            id="named-item",
        ),
        pytest.param({"a": {"b": 1}}, {"a": "text"}, [".a"], id="type-change"),
    ],
)
def test_differences_are_changes(
    rendered: dict[str, object], live: dict[str, object], paths: list[str]
) -> None:
    assert changed_fields(rendered, live) == paths


def _live_owning(fields: dict[str, object], manager: str = "registry-mirror") -> dict:
    entry = {"manager": manager, "operation": "Apply", "fieldsV1": fields}
    return {"metadata": {"managedFields": [entry]}}


def test_owned_set_item_removed() -> None:
    live = _live_owning({"f:spec": {"f:args": {'v:"--debug"': {}, 'v:"--quiet"': {}}}})

    removed = owned_fields_removed(
        {"spec": {"args": ["--quiet"]}}, live, "registry-mirror"
    )

    assert removed == ['.spec.args["--debug"]']


def test_owned_index_item_removed() -> None:
    live = _live_owning({"f:spec": {"f:ports": {"i:1": {}}}})

    removed = owned_fields_removed({"spec": {"ports": [1]}}, live, "registry-mirror")

    assert removed == [".spec.ports[1]"]


def test_keyed_item_matches_defaulted_key_field() -> None:
    key = 'k:{"containerPort":5000,"protocol":"TCP"}'
    live = _live_owning({"f:ports": {key: {".": {}, "f:containerPort": {}}}})

    removed = owned_fields_removed(
        {"ports": [{"containerPort": 5000}]}, live, "registry-mirror"
    )

    assert removed == []


def test_keyed_item_removed_is_named() -> None:
    live = _live_owning({"f:env": {'k:{"name":"OLD"}': {".": {}}}})

    removed = owned_fields_removed({"env": [{"name": "NEW"}]}, live, "registry-mirror")

    assert removed == [".env[name=OLD]"]


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param({"manager": "kubectl", "operation": "Apply"}, id="other-manager"),
        pytest.param(
            {"manager": "registry-mirror", "operation": "Update"}, id="update-operation"
        ),
        pytest.param(
            {
                "manager": "registry-mirror",
                "operation": "Apply",
                "subresource": "status",
            },
            id="subresource",
        ),
    ],
)
def test_other_owners_are_ignored(entry: dict[str, str]) -> None:
    live = {"metadata": {"managedFields": [{**entry, "fieldsV1": {"f:gone": {}}}]}}

    assert owned_fields_removed({}, live, "registry-mirror") == []
