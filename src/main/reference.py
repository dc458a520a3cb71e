"""Parse and normalise image references the way Docker does.

The grammar follows the reference package of CNCF distribution:

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ registry "/" ] repository
    repository := component ( "/" component )*
    component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
    digest     := algorithm ":" hex

The first part of a name is a registry only when it contains "." or ":", is
"localhost", or contains upper case, as in Docker. Names without a registry
belong to the default registry, and single-component names on Docker Hub get
the "library/" prefix: `alpine` becomes `docker.io/library/alpine:latest`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit

from main.errors import InvalidReferenceError, UsageError

__all__ = [
    "DIGEST_HEX_LENGTHS",
    "DOCKER_HUB",
    "ImageReference",
    "blob_url",
    "digest_problem",
    "manifest_url",
    "normalize_base_url",
    "parse_reference",
]

DOCKER_HUB = "docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io"})
DEFAULT_TAG = "latest"
NAME_MAX_LENGTH = 255
TAG_MAX_LENGTH = 128

# Hex lengths of the digest algorithms that the client verifies with hashlib.
# Hex must be lower case, so that each digest has exactly one spelling.
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REGISTRY = re.compile(
    rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]{{1,5}})?",
    re.ASCII,
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", re.ASCII)
_DIGEST_ALGORITHM = re.compile(
    r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*", re.ASCII
)
_LOWER_HEX = re.compile(r"[0-9a-f]+", re.ASCII)
_IMAGE_ID = re.compile(r"[0-9a-f]{64}", re.ASCII)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

_SHOWN_MAX_LENGTH = 80


@dataclass(frozen=True)
class ImageReference:
    """A normalised image reference such as `docker.io/library/alpine:3.20`."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Registry and repository, as in `docker.io/library/alpine`."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """Digest if there is one, else the tag: what a manifest request names."""
        if self.digest is not None:
            return self.digest
        return self.tag or DEFAULT_TAG

    @property
    def api_path(self) -> str:
        """Path of this reference's manifest in the registry HTTP API."""
        return f"/v2/{self.repository}/manifests/{self.reference}"

    def with_digest(self, digest: str) -> ImageReference:
        """Return a copy pinned to a digest, keeping the tag for display."""
        return ImageReference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str, default_registry: str = DOCKER_HUB) -> ImageReference:
    """Parse and normalise an image reference.

    Raises InvalidReferenceError with a one-line message that shows the value,
    why it is invalid and, where it helps, how to write it instead.
    """
    if not isinstance(text, str):
        raise InvalidReferenceError(
            f"invalid image reference {text!r}: expected a string such as 'alpine:3.20'"
        )
    if not text.strip():
        raise InvalidReferenceError(
            "image reference is empty: give a name such as 'alpine' "
            "or 'ghcr.io/org/app:1'"
        )
    _check_no_scheme(text)
    _check_no_login(text)
    _check_characters(text)

    name, tag, digest = _split_reference(text)
    registry, repository = _split_name(text, name, default_registry)
    _check_repository(text, repository)
    _check_length(text, f"{registry}/{repository}")

    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return ImageReference(registry, repository, tag, digest)


def digest_problem(digest: str) -> str | None:
    """Return why a digest such as `sha256:<64 hex>` is invalid, or None if valid."""
    algorithm, colon, hex_part = digest.partition(":")
    if not colon:
        return "a digest has the form 'sha256:<64 hex characters>'"
    if not _DIGEST_ALGORITHM.fullmatch(algorithm):
        return f"digest algorithm {_show(algorithm)} is malformed"
    expected_length = DIGEST_HEX_LENGTHS.get(algorithm)
    if expected_length is None:
        supported = ", ".join(DIGEST_HEX_LENGTHS)
        return f"digest algorithm {_show(algorithm)} is not supported (use {supported})"
    if not _LOWER_HEX.fullmatch(hex_part):
        return f"{algorithm} digest must be lower-case hex (0-9, a-f)"
    if len(hex_part) != expected_length:
        return (
            f"{algorithm} digest must have {expected_length} hex characters, "
            f"got {len(hex_part)}"
        )
    return None


def normalize_base_url(base_url: str) -> str:
    """Validate a registry base URL such as `http://127.0.0.1:5000` and strip `/`.

    Raises UsageError for a URL without an http(s) scheme or host, or with a
    query, fragment or user name, since credentials in URLs end up in logs.
    """
    _, separator, after_scheme = base_url.partition("://")
    if "@" in (after_scheme if separator else base_url):
        # Any '@' ends a login, and a password with '/', '?' or '#' would
        # split the URL in unexpected places, so only the host is shown.
        raise UsageError(
            f"invalid registry URL {_show(base_url.rpartition('@')[2])}: "
            "remove the user name and password; pass credentials separately"
        )
    try:
        parts = urlsplit(base_url)
        # urlsplit rejects unbalanced IPv6 brackets, as in "http://[oops", and
        # .port rejects a port that is not a number up to 65535.
        _ = parts.port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UsageError(
            f"invalid registry URL {_show(base_url.rpartition('@')[2])}: "
            "expected http(s)://HOST[:PORT], such as http://127.0.0.1:5000"
        )
    if parts.query or parts.fragment or parts.username is not None:
        raise UsageError(
            f"invalid registry URL {_show(parts.hostname)}: "
            "remove the user name, query and fragment; pass credentials separately"
        )
    return base_url.rstrip("/")


def manifest_url(
    base_url: str, reference: ImageReference, tag_or_digest: str | None = None
) -> str:
    """Return the URL of a manifest of this repository on the registry at base_url.

    base_url may be the reference's own registry, a mirror or a stand-in for it.
    tag_or_digest defaults to the reference's digest, else its tag.
    """
    target = tag_or_digest or reference.reference
    return (
        f"{normalize_base_url(base_url)}/v2/{reference.repository}/manifests/{target}"
    )


def blob_url(base_url: str, reference: ImageReference, digest: str) -> str:
    """Return the URL of a blob of this repository on the registry at base_url."""
    return f"{normalize_base_url(base_url)}/v2/{reference.repository}/blobs/{digest}"


def _split_reference(text: str) -> tuple[str, str | None, str | None]:
    """Split `name[:tag][@digest]` and validate the tag and digest."""
    name, at, digest = text.partition("@")
    if at:
        if "@" in digest:
            _fail(text, "more than one '@'")
        problem = digest_problem(digest)
        if problem is not None:
            _fail(text, problem)

    tag: str | None = None
    last_slash = name.rfind("/")
    last_colon = name.rfind(":")
    # A colon before the last slash belongs to a registry port, as in host:5000/x.
    if last_colon > last_slash:
        name, tag = name[:last_colon], name[last_colon + 1 :]
        _check_tag(text, tag)
    if not name:
        _fail(text, "the repository name is missing")
    return name, tag, digest if at else None


def _split_name(text: str, name: str, default_registry: str) -> tuple[str, str]:
    """Split a name into registry and repository, applying Docker Hub's rules."""
    first, slash, rest = name.partition("/")
    names_registry = (
        "." in first or ":" in first or first == "localhost" or first != first.lower()
    )
    if slash and names_registry:
        registry, repository = first, rest
        if not _REGISTRY.fullmatch(registry):
            _fail(text, f"registry host {_show(registry)} is invalid")
    else:
        registry, repository = default_registry, name
        if _IMAGE_ID.fullmatch(repository):
            _fail(
                text,
                "a 64-character hex string is an image ID, not a repository name",
            )
    if registry in DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in repository:
            repository = f"library/{repository}"
    return registry, repository


def _check_repository(text: str, repository: str) -> None:
    if repository != repository.lower():
        _fail(text, f"repository name {_show(repository)} must be lower case")
    for component in repository.split("/"):
        if not component:
            _fail(text, "the repository name has an empty path component")
        if ".." in component:
            _fail(text, "'..' is not allowed in a repository name")
        if not _COMPONENT.fullmatch(component):
            _fail(
                text,
                f"path component {_show(component)} is invalid: use a-z and 0-9, "
                "joined by single '.', '_', '__' or dashes",
            )


def _check_tag(text: str, tag: str) -> None:
    if not tag:
        _fail(text, "the tag after ':' is empty")
    if len(tag) > TAG_MAX_LENGTH:
        _fail(text, f"the tag is {len(tag)} characters long, over {TAG_MAX_LENGTH}")
    if not _TAG.fullmatch(tag):
        _fail(
            text,
            f"tag {_show(tag)} is invalid: use A-Z, a-z, 0-9, '_', '.', '-' "
            "and no '.' or '-' first",
        )


def _check_length(text: str, full_name: str) -> None:
    if len(full_name) > NAME_MAX_LENGTH:
        _fail(
            text,
            f"the full name is {len(full_name)} characters long, "
            f"over {NAME_MAX_LENGTH}",
        )


def _check_no_scheme(text: str) -> None:
    match = _SCHEME.match(text)
    if match is None:
        return
    rest = text[match.end() :]
    # Keep a URL's user name and password out of the message.
    authority, slash, path = rest.partition("/")
    without_scheme = authority.rpartition("@")[2] + slash + path
    raise InvalidReferenceError(
        f"invalid image reference {_show(without_scheme)}: remove the "
        f"{_show(match.group())} prefix, because a reference names a registry "
        "host, not a URL"
    )


def _check_no_login(text: str) -> None:
    # A digest never contains '/', so an '@' followed by a '/' ends a login
    # such as user:password@registry/repository. The message leaves the login
    # out, because the other checks would quote it.
    last_slash = text.rfind("/")
    at = text.rfind("@", 0, last_slash) if last_slash > 0 else -1
    if at < 0:
        return
    raise InvalidReferenceError(
        f"invalid image reference {_show('***@' + text[at + 1 :])}: remove the "
        "user name and password before '@'; a reference names no login"
    )


def _check_characters(text: str) -> None:
    for position, character in enumerate(text):
        if character.isspace():
            _fail(text, f"it contains whitespace at position {position}")
        if not character.isascii():
            code = f"U+{ord(character):04X}"
            label = unicodedata.name(character, code)
            _fail(
                text,
                f"it contains the non-ASCII character {label} ({code}) at "
                f"position {position}",
            )
        if not character.isprintable():
            _fail(text, f"it contains a control character at position {position}")


def _fail(text: str, reason: str) -> NoReturn:
    raise InvalidReferenceError(f"invalid image reference {_show(text)}: {reason}")


def _show(value: str) -> str:
    """Quote a value for a one-line message, shortening very long values."""
    if len(value) > _SHOWN_MAX_LENGTH:
        return f"{value[:60]!r}... ({len(value)} characters)"
    return repr(value)
