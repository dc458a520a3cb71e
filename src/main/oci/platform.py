"""Image platforms (os/architecture/variant): parse, normalise and rank.

Normalisation and the fallback order follow containerd's `platforms` package
(`Normalize` and `Only`). So a request for amd64 also accepts 386 images,
arm/v7 also accepts arm/v6 and arm/v5, and arm64 also accepts 32-bit arm down
to v5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from main.errors import UsageError

__all__ = [
    "DEFAULT_PLATFORM",
    "Platform",
    "normalize_platform",
    "parse_platform",
    "platform_preferences",
]

_PART = re.compile(r"[a-z0-9_.-]+", re.ASCII)


@dataclass(frozen=True)
class Platform:
    """An image platform such as linux/arm64 or linux/arm/v7."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        if self.variant:
            text += f"/{self.variant}"
        return text


DEFAULT_PLATFORM = Platform("linux", "amd64")


def parse_platform(text: str) -> Platform:
    """Parse `os/architecture[/variant]` and normalise it.

    Raises UsageError for anything else, showing the value.
    """
    parts = text.strip().lower().split("/")
    valid = 2 <= len(parts) <= 3 and all(_PART.fullmatch(part) for part in parts)
    if not valid:
        msg = (
            f"invalid platform {text!r}: expected os/architecture[/variant], "
            "such as linux/amd64 or linux/arm/v7"
        )
        raise UsageError(msg)
    variant = parts[2] if len(parts) == 3 else ""
    return normalize_platform(Platform(parts[0], parts[1], variant))


def normalize_platform(platform: Platform) -> Platform:
    """Return the canonical spelling: x86_64 is amd64, aarch64 is arm64, and so on."""
    os = platform.os.lower()
    if os == "macos":
        os = "darwin"
    architecture = platform.architecture.lower()
    variant = platform.variant.lower()

    if architecture == "i386":
        architecture, variant = "386", ""
    elif architecture in {"x86_64", "x86-64", "amd64"}:
        architecture = "amd64"
        if variant == "v1":
            variant = ""
    elif architecture in {"aarch64", "arm64"}:
        architecture = "arm64"
        if variant in {"8", "v8"}:
            variant = ""
    elif architecture == "armhf":
        architecture, variant = "arm", "v7"
    elif architecture == "armel":
        architecture, variant = "arm", "v6"
    elif architecture == "arm":
        if variant in {"", "7"}:
            variant = "v7"
        elif variant in {"5", "6", "8"}:
            variant = f"v{variant}"
    return Platform(os, architecture, variant)


def platform_preferences(requested: Platform) -> list[Platform]:
    """Return the platforms that can run on `requested`, best first."""
    normalized = normalize_platform(requested)
    preferences = [normalized]
    level = _variant_level(normalized.variant)

    if normalized.architecture == "amd64":
        # amd64 micro-architecture levels: v3 hosts run v2 and v1 (no variant).
        for lower in range(level - 1, 0, -1):
            variant = "" if lower == 1 else f"v{lower}"
            preferences.append(Platform(normalized.os, "amd64", variant))
        preferences.append(Platform(normalized.os, "386"))
    elif normalized.architecture == "arm":
        for lower in range(level - 1, 4, -1):
            preferences.append(Platform(normalized.os, "arm", f"v{lower}"))
    elif normalized.architecture == "arm64":
        for lower in range(8, 4, -1):
            preferences.append(Platform(normalized.os, "arm", f"v{lower}"))
    return preferences


def _variant_level(variant: str) -> int:
    """Return the number in a variant such as v7, or 0 when it has none."""
    digits = variant.removeprefix("v")
    return int(digits) if digits.isdigit() else 0
