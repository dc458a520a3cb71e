import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from main.errors import ManifestNotFoundError, RegistryError
from main.oci.manifest import (
    Descriptor,
    ImageIndex,
    ImageManifest,
    parse_manifest,
    select_manifest,
)
from main.oci.media import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
)
from main.oci.platform import Platform, parse_platform

URL = "http://127.0.0.1:1/v2/library/x/manifests/1"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest(character: str) -> str:
    return "sha256:" + character * 64


def entry(
    media_type: str, character: str, size: int = 10, platform: str | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "mediaType": media_type,
        "digest": digest(character),
        "size": size,
    }
    if platform is not None:
        os, architecture, *variant = platform.split("/")
        document["platform"] = {"os": os, "architecture": architecture}
        if variant:
            document["platform"]["variant"] = variant[0]
    return document


def index_document(media_type: str = OCI_INDEX, **extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            entry(OCI_MANIFEST, "a", platform="linux/amd64"),
            entry(OCI_MANIFEST, "b", platform="linux/arm64/v8"),
        ],
        **extra,
    }


def manifest_document(media_type: str = OCI_MANIFEST) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": entry(OCI_CONFIG, "c", 2),
        "layers": [entry(LAYER, "d", 100), entry(LAYER, "e", 200)],
    }


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def test_parse_oci_index() -> None:
    parsed = parse_manifest(encode(index_document()), OCI_INDEX, url=URL)

    assert isinstance(parsed, ImageIndex)
    assert parsed.media_type == OCI_INDEX
    assert parsed.manifests[1] == Descriptor(
        OCI_MANIFEST, digest("b"), 10, Platform("linux", "arm64", "v8")
    )


def test_parse_docker_manifest_list() -> None:
    document = index_document(DOCKER_MANIFEST_LIST)

    parsed = parse_manifest(encode(document), DOCKER_MANIFEST_LIST, url=URL)

    assert isinstance(parsed, ImageIndex)
    assert parsed.media_type == DOCKER_MANIFEST_LIST


def test_parse_oci_manifest() -> None:
    parsed = parse_manifest(encode(manifest_document()), OCI_MANIFEST, url=URL)

    assert isinstance(parsed, ImageManifest)
    assert parsed.config.digest == digest("c")
    assert [layer.size for layer in parsed.layers] == [100, 200]


def test_parse_docker_manifest() -> None:
    document = manifest_document(DOCKER_MANIFEST)
    document["config"]["mediaType"] = DOCKER_CONFIG

    parsed = parse_manifest(encode(document), DOCKER_MANIFEST, url=URL)

    assert isinstance(parsed, ImageManifest)
    assert parsed.media_type == DOCKER_MANIFEST


@pytest.mark.parametrize(
    ("header", "document", "expected_type"),
    [
        pytest.param(
            "application/json",
            {**index_document(), "mediaType": None},
            OCI_INDEX,
            id="index-from-shape",
        ),
        pytest.param(
            None,
            {**manifest_document(), "mediaType": None},
            OCI_MANIFEST,
            id="manifest-from-shape",
        ),
        pytest.param(
            f"{DOCKER_MANIFEST}; charset=utf-8",
            {**manifest_document(), "mediaType": None},
            DOCKER_MANIFEST,
            id="header-with-parameter",
        ),
    ],
)
def test_media_type_without_field(
    header: str | None, document: dict[str, Any], expected_type: str
) -> None:
    del document["mediaType"]

    parsed = parse_manifest(encode(document), header, url=URL)

    assert parsed.media_type == expected_type


def test_blobs_lists_config_first_without_repeats() -> None:
    document = manifest_document()
    document["layers"].append(entry(LAYER, "d", 100))

    parsed = parse_manifest(encode(document), OCI_MANIFEST, url=URL)

    assert isinstance(parsed, ImageManifest)
    assert [blob.digest for blob in parsed.blobs] == [
        digest("c"),
        digest("d"),
        digest("e"),
    ]


def _with(document: dict[str, Any], **changes: Any) -> bytes:
    return encode({**document, **changes})


@pytest.mark.parametrize(
    ("data", "header", "reason"),
    [
        pytest.param(
            b"<html><body>Service Unavailable</body></html>",
            "text/html; charset=utf-8",
            "got HTML instead of JSON",
            id="html",
        ),
        pytest.param(
            b"\n  <!DOCTYPE html>",
            "application/json",
            "got HTML instead of JSON",
            id="html-mislabelled",
        ),
        pytest.param(
            encode(index_document())[:-20],
            OCI_INDEX,
            "truncated",
            id="truncated",
        ),
        pytest.param(b"", OCI_INDEX, "empty", id="empty"),
        pytest.param(b"{'a': 1}", OCI_INDEX, "invalid JSON at byte 1", id="bad-json"),
        pytest.param(b"\xff\xfe\xfd", OCI_INDEX, "not UTF-8", id="binary"),
        pytest.param(b"[1, 2]", OCI_INDEX, "expected a JSON object", id="array"),
        pytest.param(
            _with(index_document(), schemaVersion=1),
            None,
            "schema 1",
            id="schema-1",
        ),
        pytest.param(
            _with(
                manifest_document(),
                mediaType="application/vnd.docker.distribution.manifest.v1+prettyjws",
            ),
            None,
            "schema 1",
            id="schema-1-type",
        ),
        pytest.param(
            _with(index_document(), schemaVersion=3),
            OCI_INDEX,
            "schemaVersion is 3",
            id="schema-3",
        ),
        pytest.param(
            b'{"architecture": "amd64", "os": "linux"}',
            OCI_CONFIG,
            "unsupported media type",
            id="config-instead",
        ),
        pytest.param(
            _with(manifest_document(), mediaType=LAYER),
            None,
            "unsupported media type",
            id="layer-type",
        ),
        pytest.param(
            encode(index_document()),
            OCI_MANIFEST,
            "differs from mediaType",
            id="header-mismatch",
        ),
        pytest.param(
            _with(manifest_document(), config=None),
            OCI_MANIFEST,
            "field 'config'",
            id="no-config",
        ),
        pytest.param(
            _with(manifest_document(), layers={"a": 1}),
            OCI_MANIFEST,
            "field 'layers'",
            id="layers-not-list",
        ),
        pytest.param(
            _with(index_document(), manifests=["x"]),
            OCI_INDEX,
            "a descriptor is str",
            id="descriptor-not-object",
        ),
        pytest.param(
            _with(
                manifest_document(),
                config={**entry(OCI_CONFIG, "c"), "digest": "sha256:../../etc"},
            ),
            OCI_MANIFEST,
            "descriptor digest 'sha256:../../etc' is invalid",
            id="digest-path",
        ),
        pytest.param(
            _with(manifest_document(), config={**entry(OCI_CONFIG, "c"), "size": -1}),
            OCI_MANIFEST,
            "size -1",
            id="negative-size",
        ),
        pytest.param(
            _with(manifest_document(), config={**entry(OCI_CONFIG, "c"), "size": True}),
            OCI_MANIFEST,
            "size True",
            id="boolean-size",
        ),
        pytest.param(
            _with(
                index_document(),
                manifests=[{**entry(OCI_MANIFEST, "a"), "platform": "linux"}],
            ),
            OCI_INDEX,
            "a platform is str",
            id="platform-not-object",
        ),
        pytest.param(
            _with(index_document(), mediaType=7),
            None,
            "mediaType is 7",
            id="media-type-number",
        ),
    ],
)
def test_parse_rejects(data: bytes, header: str | None, reason: str) -> None:
    with pytest.raises(RegistryError) as caught:
        parse_manifest(data, header, url=URL)

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"invalid manifest from {URL}: ")
    assert reason in message
    assert caught.value.url == URL


def test_parse_rejects_over_size() -> None:
    data = encode(index_document(annotations={"padding": "x" * 5000}))

    with pytest.raises(RegistryError, match="over the 4096-byte limit"):
        parse_manifest(data, OCI_INDEX, url=URL, max_bytes=4096)


def _index(*platforms: str | None, media_type: str = OCI_MANIFEST) -> ImageIndex:
    entries = []
    for number, platform in enumerate(platforms):
        parsed = None if platform is None else Platform(*platform.split("/"))
        entries.append(Descriptor(media_type, digest(str(number)), 1, parsed))
    return ImageIndex(OCI_INDEX, tuple(entries))


@pytest.mark.parametrize(
    ("platforms", "requested", "chosen"),
    [
        pytest.param(("linux/amd64", "linux/arm64"), "linux/amd64", 0, id="amd64"),
        pytest.param(("linux/amd64", "linux/arm64"), "linux/arm64", 1, id="arm64"),
        pytest.param(
            ("linux/amd64", "linux/arm64/v8"), "linux/arm64", 1, id="arm64-v8-entry"
        ),
        pytest.param(("linux/arm64",), "linux/aarch64", 0, id="aarch64-request"),
        pytest.param(("linux/386", "linux/arm64"), "linux/amd64", 0, id="386-fallback"),
        pytest.param(
            ("linux/arm/v5", "linux/arm/v6"), "linux/arm/v7", 1, id="best-arm"
        ),
        pytest.param(
            ("unknown/unknown", "linux/amd64"), "linux/amd64", 1, id="skip-attestation"
        ),
        pytest.param(
            ("linux/386", "linux/amd64"), "linux/amd64", 1, id="exact-beats-fallback"
        ),
        pytest.param((None, "linux/arm64"), "linux/amd64", 0, id="unlabelled"),
        pytest.param(
            ("linux/amd64", "linux/amd64"), "linux/amd64", 0, id="first-of-equals"
        ),
    ],
)
def test_select_manifest(
    platforms: tuple[str | None, ...], requested: str, chosen: int
) -> None:
    index = _index(*platforms)

    selected = select_manifest(index, parse_platform(requested), url=URL)

    assert selected == index.manifests[chosen]


def test_select_manifest_lists_offered_platforms() -> None:
    index = _index("linux/amd64", "linux/arm64/v8")

    with pytest.raises(ManifestNotFoundError) as caught:
        select_manifest(index, parse_platform("linux/s390x"), url=URL)

    message = str(caught.value)
    assert "no manifest for platform linux/s390x" in message
    assert "linux/amd64, linux/arm64/v8" in message


def test_select_manifest_ignores_non_manifest_entries() -> None:
    index = _index("linux/amd64", media_type=LAYER)

    with pytest.raises(ManifestNotFoundError, match="offers: none"):
        select_manifest(index, parse_platform("linux/amd64"), url=URL)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@given(data=st.binary(max_size=300), header=st.sampled_from([None, OCI_INDEX, "x/y"]))
def test_arbitrary_bytes_fail_as_registry_error(
    data: bytes, header: str | None
) -> None:
    message = ""
    try:
        parse_manifest(data, header, url=URL)
    except RegistryError as error:
        message = str(error)

    assert "\n" not in message


@given(
    document=st.fixed_dictionaries(
        {"schemaVersion": st.sampled_from([2, 1, "2"])},
        optional={
            "mediaType": st.sampled_from([OCI_INDEX, OCI_MANIFEST, "x"]),
            "manifests": _JSON_VALUES,
            "config": _JSON_VALUES,
            "layers": _JSON_VALUES,
        },
    )
)
def test_arbitrary_documents_fail_as_registry_error(document: dict[str, Any]) -> None:
    message = ""
    try:
        parse_manifest(encode(document), None, url=URL)
    except RegistryError as error:
        message = str(error)

    assert "\n" not in message
