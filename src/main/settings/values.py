"""Check single settings values and suggest the corrected spelling.

Each function takes the dotted key of the value (for the message) and the
raw value, and returns the value in its canonical form or raises
`SettingsError` with one line that shows the bad value and a corrected one.
"""

from __future__ import annotations

import re
from typing import NoReturn

from main.errors import SettingsError

__all__ = [
    "check_absolute_path",
    "check_cpu",
    "check_duration",
    "check_host_port",
    "check_image_reference",
    "check_image_repository",
    "check_label",
    "check_memory",
    "check_pinned_image",
    "check_port",
    "check_seconds",
    "check_secret_key",
    "check_size",
    "check_subdomain",
    "check_timeout",
    "check_url",
    "suggest_label",
]

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SUBDOMAIN = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_HOST = re.compile(
    r"(?P<host>[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)"
    r"(:(?P<port>[0-9]{1,5}))?"
)
# Corrections use binary suffixes such as Gi, the usual unit of volume sizes.
_SIZE = re.compile(r"(?P<number>[1-9][0-9]*)(?P<unit>Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)")
_SIZE_LOOSE = re.compile(r"\s*(?P<number>[0-9]+)\s*(?P<unit>[a-zA-Z]*)\s*")
_SIZE_UNITS = {"k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti", "p": "Pi"}
_MEMORY = re.compile(r"[1-9][0-9]*(Ki|Mi|Gi|Ti|k|M|G|T)?")
_CPU = re.compile(r"([1-9][0-9]*m|[0-9]+(\.[0-9]+)?)")
# Go's time.ParseDuration grammar, which distribution uses for proxy.ttl.
_DURATION = re.compile(r"0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+")
_DAYS = re.compile(r"\s*(?P<days>[0-9]+)\s*d(ays?)?\s*")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}")
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")
_URL = re.compile(r"(?P<scheme>https?)://(?P<netloc>[^/?#]+)/?")
# An image reference as the distribution reference grammar defines it, with a
# tag, a sha256 digest or both. Domain components may hold upper case, path
# components may not.
_DOMAIN_COMPONENT = r"[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(\.{_DOMAIN_COMPONENT})*(:[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*"
_TAG = r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_IMAGE_REFERENCE = re.compile(
    rf"({_DOMAIN}/)?{_PATH_COMPONENT}(/{_PATH_COMPONENT})*"
    rf"({_TAG}(@sha256:[0-9a-f]{{64}})?|@sha256:[0-9a-f]{{64}})"
)


def _fail(message: str) -> NoReturn:
    raise SettingsError(message)


def suggest_label(value: str, fallback: str) -> str:
    """Turn `value` into an RFC 1123 label, or return `fallback` if none is left."""
    label = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:63].strip("-")
    return label or fallback


def check_label(key: str, value: object, fallback: str) -> str:
    """Check an RFC 1123 label, such as a namespace name."""
    text = _text(key, value, fallback)
    if _LABEL.fullmatch(text):
        return text
    suggestion = suggest_label(text, fallback)
    _fail(
        f"{key} {text!r} is not a valid RFC 1123 label (lower case letters, digits"
        f" and '-', at most 63 characters); use {suggestion!r}"
    )


def check_subdomain(key: str, value: object) -> str:
    """Check an RFC 1123 subdomain, such as a node or Secret name."""
    text = _text(key, value)
    if len(text) <= 253 and _SUBDOMAIN.fullmatch(text):
        return text
    suggestion = re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.") or "name"
    _fail(f"{key} {text!r} is not a valid RFC 1123 subdomain; use {suggestion!r}")


def check_secret_key(key: str, value: object) -> str:
    """Check a key inside a Secret's data."""
    text = _text(key, value)
    if _SECRET_KEY.fullmatch(text) and len(text) <= 253:
        return text
    suggestion = re.sub(r"[^-._a-zA-Z0-9]+", "-", text).strip("-") or "password"
    _fail(f"{key} {text!r} is not a valid Secret key; use {suggestion!r}")


def check_host_port(key: str, value: object, example: str = "mirror:5000") -> str:
    """Check a `host[:port]` address, as the engine's mirror entries need it."""
    text = _text(key, value)
    if _is_host_port(text):
        return text
    without_scheme = _SCHEME.sub("", text.strip()).split("/", 1)[0].lower()
    suggestion = without_scheme if _is_host_port(without_scheme) else example
    _fail(f"{key} {text!r} must be host[:port]; use {suggestion!r}")


def check_url(key: str, value: object, suggestion: str) -> str:
    """Check an upstream registry URL: a scheme and a host, no path."""
    text = _text(key, value, suggestion)
    match = _URL.fullmatch(text)
    if match and _is_host_port(match.group("netloc").lower()):
        return f"{match.group('scheme')}://{match.group('netloc').lower()}"
    bare = text.strip().strip("/").lower()
    if not _SCHEME.match(text) and _is_host_port(bare):
        suggestion = f"https://{bare}"
    _fail(
        f"{key} {_without_login(text)!r} is not a registry URL https://host[:port]; "
        f"use {suggestion!r}"
    )


def _without_login(url: str) -> str:
    """Replace the `user:password@` of a URL with `***@`, so messages can quote it."""
    scheme = _SCHEME.match(url)
    start = scheme.end() if scheme else 0
    # The last '@' counts, because a password may itself contain '@' or '/'.
    at = url.rfind("@")
    if at < start:
        return url
    return f"{url[:start]}***@{url[at + 1 :]}"


def check_port(key: str, value: object, fallback: int) -> int:
    """Check a TCP port number, also given as a string of digits by an override."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    _fail(f"{key} {value!r} is not a TCP port (1-65535); use {fallback}")


def check_seconds(key: str, value: object, fallback: int) -> int:
    """Check a whole number of seconds that is at least 1."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    _fail(f"{key} {value!r} is not a whole number of seconds; use {fallback}")


def check_size(key: str, value: object, fallback: str) -> str:
    """Check a storage size as a Kubernetes quantity such as `50Gi`."""
    text = _text(key, value, fallback)
    if _SIZE.fullmatch(text):
        return text
    loose = _SIZE_LOOSE.fullmatch(text)
    suggestion = fallback
    if loose and int(loose.group("number")) > 0:
        unit = _SIZE_UNITS.get(loose.group("unit")[:1].lower(), "Gi")
        suggestion = f"{int(loose.group('number'))}{unit}"
    _fail(f"{key} {text!r} is not a Kubernetes quantity; use {suggestion!r}")


def check_memory(key: str, value: object, fallback: str) -> str:
    """Check a memory quantity for requests and limits."""
    text = _text(key, value, fallback)
    if _MEMORY.fullmatch(text):
        return text
    return check_size(key, text, fallback)


def check_cpu(key: str, value: object, fallback: str) -> str:
    """Check a CPU quantity: whole or fractional cores, or millicores."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    text = _text(key, value, fallback)
    if _CPU.fullmatch(text) and text.strip("0.m") != "":
        return text
    _fail(
        f"{key} {text!r} is not a CPU quantity such as '500m' or '2'; use {fallback!r}"
    )


def check_duration(key: str, value: object, fallback: str) -> str:
    """Check a Go duration such as `168h`. Go durations have no unit for days."""
    text = _text(key, value, fallback)
    if _DURATION.fullmatch(text):
        return text
    days = _DAYS.fullmatch(text)
    suggestion = f"{int(days.group('days')) * 24}h" if days else fallback
    compact = text.replace(" ", "")
    if not days and _DURATION.fullmatch(compact):
        suggestion = compact
    _fail(f"{key} {text!r} is not a Go duration; use {suggestion!r}")


def check_pinned_image(key: str, value: object, fallback: str) -> str:
    """Check an image reference that is pinned by a sha256 digest."""
    text = _text(key, value, fallback)
    if _DIGEST.search(text) and text.endswith(_DIGEST.findall(text)[-1]):
        return text
    _fail(
        f"{key} {text!r} must be pinned by digest (name@sha256:...); use {fallback!r}"
    )


def check_image_reference(key: str, value: object, fallback: str) -> str:
    """Check an image reference that names a tag or a digest, such as `host/app:1.0`.

    The suggested correction lowercases the repository path and adds the tag
    of `fallback` when the value has neither tag nor digest.
    """
    text = _text(key, value, fallback)
    if _IMAGE_REFERENCE.fullmatch(text):
        return text
    domain, slash, path = text.strip().partition("/")
    suggestion = f"{domain}{slash}{path.lower()}" if slash else domain.lower()
    last = suggestion.rsplit("/", 1)[-1]
    fallback_last = fallback.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last and ":" in fallback_last:
        suggestion += ":" + fallback_last.rsplit(":", 1)[1]
    if not _IMAGE_REFERENCE.fullmatch(suggestion):
        suggestion = fallback
    _fail(
        f"{key} {text!r} is not an image reference with a tag or digest and a"
        f" lower-case repository; use {suggestion!r}"
    )


def check_timeout(key: str, value: object, fallback: float) -> float:
    """Check a number of seconds above 0 and at most an hour, such as `2.5`."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is not None and 0 < number <= 3600:
        return number
    _fail(
        f"{key} {value!r} is not a number of seconds above 0 and at most 3600;"
        f" use {fallback:g}"
    )


def check_image_repository(key: str, value: object, fallback: str) -> str:
    """Check an image repository without tag or digest, such as `host/engine`."""
    text = _text(key, value, fallback)
    last = text.rsplit("/", 1)[-1]
    if text and "@" not in text and ":" not in last and text == text.strip().lower():
        return text
    suggestion = text.split("@", 1)[0]
    if ":" in suggestion.rsplit("/", 1)[-1]:
        suggestion = suggestion.rsplit(":", 1)[0]
    suggestion = suggestion.lower() or fallback
    _fail(
        f"{key} {text!r} must be a repository without tag or digest, because the"
        f" tag comes from the pinned engine version; use {suggestion!r}"
    )


def check_absolute_path(key: str, value: object, fallback: str) -> str:
    """Check an absolute directory path on a node, without `..` parts."""
    text = _text(key, value, fallback)
    parts = text.split("/")
    if text.startswith("/") and ".." not in parts and "\n" not in text and text != "/":
        return text.rstrip("/")
    suggestion = "/" + "/".join(p for p in parts if p not in ("", ".", ".."))
    if suggestion == "/":
        suggestion = fallback
    _fail(f"{key} {text!r} must be an absolute directory path; use {suggestion!r}")


def _text(key: str, value: object, example: object = None) -> str:
    if isinstance(value, str):
        return value
    kind = type(value).__name__
    if example is None:
        _fail(f"{key} must be a string, not {kind} {value!r}")
    _fail(f"{key} must be a string, not {kind} {value!r}; use {str(example)!r}")


def _is_host_port(text: str) -> bool:
    match = _HOST.fullmatch(text)
    port = match.group("port") if match else None
    return match is not None and (port is None or 1 <= int(port) <= 65535)
