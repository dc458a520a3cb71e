"""Compare a rendered object with its live copy the way server-side apply would.

Server-side apply changes an object in two ways: it sets every field of the
applied configuration, and it removes the fields that the same field manager
set before but no longer sends. The first shows as a rendered value that the
live object lacks or contains with another value. The second shows in the
live object's `metadata.managedFields`: a field owned by this manager that
the rendered object no longer has.

Fields that the API server adds (defaults, status, annotations of
controllers) are not differences: only what the rendered object contains or
what this manager owns is compared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["changed_fields", "owned_fields_removed", "parse_quantity"]

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?"
)
_QUANTITY_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{
        suffix: Decimal(1024) ** power
        for power, suffix in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), start=1)
    },
}

# Metadata that the API server sets on every object and that a rendered
# object never sends.
_SERVER_METADATA = frozenset(
    {
        "creationTimestamp",
        "generation",
        "managedFields",
        "resourceVersion",
        "selfLink",
        "uid",
    }
)


def changed_fields(rendered: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """Return the paths of rendered fields that the live object lacks or differs in.

    Lists of mappings that all have a `name` are matched by name, because the
    API merges containers, volumes and ports by name. Other lists are compared
    item by item.
    """
    return list(_diff(rendered, live, ""))


def owned_fields_removed(
    rendered: Mapping[str, Any], live: Mapping[str, Any], manager: str
) -> list[str]:
    """Return paths that `manager` applied to the live object but rendering dropped.

    Reads the `Apply` entries of `metadata.managedFields` in the `FieldsV1`
    format: `f:name` is a field, `k:{...}` a list item by its key fields,
    `v:...` a set item by value and `i:N` a list item by index.
    """
    removed: list[str] = []
    for entry in live.get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") != manager or entry.get("operation") != "Apply":
            continue
        if entry.get("subresource"):
            continue
        fields = entry.get("fieldsV1") or {}
        removed.extend(_missing(fields, rendered, ""))
    return sorted(set(removed))


def _diff(rendered: Any, live: Any, path: str) -> Iterator[str]:
    if isinstance(rendered, Mapping):
        if not isinstance(live, Mapping):
            yield path or "."
            return
        for name, value in rendered.items():
            if path == ".metadata" and name in _SERVER_METADATA:
                continue
            child = f"{path}.{name}"
            if name not in live:
                yield child
            else:
                yield from _diff(value, live[name], child)
    elif isinstance(rendered, list):
        yield from _diff_list(rendered, live, path)
    elif not _scalars_equal(rendered, live):
        yield path


def _diff_list(rendered: list[Any], live: Any, path: str) -> Iterator[str]:
    if not isinstance(live, list):
        yield path
        return
    if _all_named(rendered) and _all_named(live):
        by_name = {item["name"]: item for item in live}
        for item in rendered:
            child = f"{path}[name={item['name']}]"
            if item["name"] not in by_name:
                yield child
            else:
                yield from _diff(item, by_name[item["name"]], child)
        return
    if len(rendered) != len(live):
        yield path
        return
    for index, (item, live_item) in enumerate(zip(rendered, live, strict=True)):
        yield from _diff(item, live_item, f"{path}[{index}]")


def _all_named(items: Sequence[Any]) -> bool:
    return bool(items) and all(
        isinstance(item, Mapping) and isinstance(item.get("name"), str)
        for item in items
    )


def _scalars_equal(rendered: Any, live: Any) -> bool:
    if rendered == live:
        return True
    if isinstance(rendered, bool) or isinstance(live, bool):
        return False
    if not isinstance(rendered, int | str) or not isinstance(live, int | str):
        return False
    # YAML may read a rendered "8080" or 8080 where the API returns the other
    # form for int-or-string fields such as targetPort.
    if str(rendered) == str(live):
        return True
    # The API server stores quantities in canonical form: "2048Mi" reads back
    # as "2Gi" and "0.5" as "500m".
    rendered_quantity = parse_quantity(str(rendered))
    return rendered_quantity is not None and rendered_quantity == parse_quantity(
        str(live)
    )


def parse_quantity(text: str) -> Decimal | None:
    """Return the value of a Kubernetes quantity such as `2Gi` or `500m`, or None."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        return None
    try:
        number = Decimal(match["number"])
    except InvalidOperation:
        return None
    suffix = match["suffix"] or ""
    if suffix.startswith(("e", "E")):
        return number.scaleb(int(suffix[1:]))
    return number * _QUANTITY_SUFFIXES[suffix]


def _missing(fields: Mapping[str, Any], rendered: Any, path: str) -> Iterator[str]:
    for field_key, children in fields.items():
        if field_key == ".":
            continue
        kind, _, raw = field_key.partition(":")
        if kind == "f":
            if not isinstance(rendered, Mapping) or raw not in rendered:
                yield f"{path}.{raw}"
            elif children:
                yield from _missing(children, rendered[raw], f"{path}.{raw}")
        elif kind == "k":
            item = _find_keyed(rendered, json.loads(raw))
            child = f"{path}[{_describe_key(raw)}]"
            if item is None:
                yield child
            elif children:
                yield from _missing(children, item, child)
        elif kind == "v":
            if not isinstance(rendered, list) or json.loads(raw) not in rendered:
                yield f"{path}[{raw}]"
        elif kind == "i":
            index = int(raw)
            if not isinstance(rendered, list) or index >= len(rendered):
                yield f"{path}[{index}]"
            elif children:
                yield from _missing(children, rendered[index], f"{path}[{index}]")


def _find_keyed(rendered: Any, key: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Find the list item whose key fields match, treating absent ones as defaults.

    The API server computes item keys after defaulting, so a port rendered
    without `protocol` has the key `{"containerPort": 5000, "protocol": "TCP"}`.
    """
    if not isinstance(rendered, list):
        return None
    for item in rendered:
        if not isinstance(item, Mapping) or not any(name in item for name in key):
            continue
        if all(
            name not in item or _scalars_equal(item[name], value)
            for name, value in key.items()
        ):
            return item
    return None


def _describe_key(raw: str) -> str:
    key = json.loads(raw)
    return ",".join(f"{name}={value}" for name, value in sorted(key.items()))
