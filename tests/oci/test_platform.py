import pytest

from main.errors import UsageError
from main.oci.platform import (
    DEFAULT_PLATFORM,
    Platform,
    normalize_platform,
    parse_platform,
    platform_preferences,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("linux/amd64", Platform("linux", "amd64"), id="amd64"),
        pytest.param("linux/arm64/v8", Platform("linux", "arm64"), id="arm64-v8"),
        pytest.param("linux/aarch64", Platform("linux", "arm64"), id="aarch64"),
        pytest.param("Linux/X86_64", Platform("linux", "amd64"), id="upper-case"),
        pytest.param("linux/arm", Platform("linux", "arm", "v7"), id="arm-default"),
        pytest.param("linux/armhf", Platform("linux", "arm", "v7"), id="armhf"),
        pytest.param("linux/armel", Platform("linux", "arm", "v6"), id="armel"),
        pytest.param("linux/arm/6", Platform("linux", "arm", "v6"), id="arm-6"),
        pytest.param("linux/i386", Platform("linux", "386"), id="i386"),
        pytest.param("linux/amd64/v1", Platform("linux", "amd64"), id="amd64-v1"),
        pytest.param("linux/amd64/v3", Platform("linux", "amd64", "v3"), id="amd64-v3"),
        pytest.param("macos/arm64", Platform("darwin", "arm64"), id="macos"),
    ],
)
def test_parse_platform(text: str, expected: Platform) -> None:
    assert parse_platform(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("linux", id="os-only"),
        pytest.param("linux/amd64/v2/x", id="four-parts"),
        pytest.param("linux//v7", id="empty-part"),
        pytest.param("linux/am d64", id="space"),
    ],
)
def test_parse_platform_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="invalid platform"):
        parse_platform(text)


def test_platform_str_includes_variant() -> None:
    assert str(Platform("linux", "arm", "v7")) == "linux/arm/v7"
    assert str(DEFAULT_PLATFORM) == "linux/amd64"


def test_normalize_keeps_unknown_architecture() -> None:
    assert normalize_platform(Platform("linux", "riscv64")) == Platform(
        "linux", "riscv64"
    )


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        pytest.param(
            "linux/amd64",
            ["linux/amd64", "linux/386"],
            id="amd64-runs-386",
        ),
        pytest.param(
            "linux/amd64/v3",
            ["linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"],
            id="amd64-levels",
        ),
        pytest.param(
            "linux/arm/v7",
            ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"],
            id="arm-v7",
        ),
        pytest.param(
            "linux/arm64",
            [
                "linux/arm64",
                "linux/arm/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/arm/v5",
            ],
            id="arm64-runs-arm",
        ),
        pytest.param("linux/s390x", ["linux/s390x"], id="no-fallback"),
    ],
)
def test_platform_preferences(requested: str, expected: list[str]) -> None:
    preferences = platform_preferences(parse_platform(requested))

    assert [str(platform) for platform in preferences] == expected
