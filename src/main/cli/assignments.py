"""Parse `KEY=VALUE` settings overrides, as `--set` takes them on both front doors."""

from __future__ import annotations

from collections.abc import Iterable

from main.errors import UsageError

__all__ = ["parse_assignments"]


def parse_assignments(
    items: Iterable[str],
    option: str = "override",
    example: str = "storage.size=100Gi",
) -> dict[str, str]:
    """Turn `["storage.size=100Gi", ...]` into `{"storage.size": "100Gi", ...}`.

    The value may contain `=`; an empty value restores the key's default. A
    key given twice keeps the last value, as repeated command-line options do.
    `option` and `example` name the option in the error message.
    """
    overrides: dict[str, str] = {}
    for item in items:
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not key:
            msg = f"invalid {option} {item!r}: write KEY=VALUE, such as {example}"
            raise UsageError(msg)
        overrides[key] = value.strip()
    return overrides
