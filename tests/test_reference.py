import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from main.errors import InvalidReferenceError, UsageError
from main.reference import (
    ImageReference,
    blob_url,
    digest_problem,
    manifest_url,
    normalize_base_url,
    parse_reference,
)

DIGEST = "sha256:" + "ab" * 32
SHA512 = "sha512:" + "cd" * 64


# Strategies that build valid references from the grammar's parts.
_ALNUM = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6
)
_SEPARATOR = st.sampled_from([".", "_", "__", "-", "---"])
_COMPONENT = st.builds(
    lambda first, rest: first + "".join(sep + part for sep, part in rest),
    _ALNUM,
    st.lists(st.tuples(_SEPARATOR, _ALNUM), max_size=2),
)
_REPOSITORY = st.lists(_COMPONENT, min_size=1, max_size=3).map("/".join)
_REGISTRY = st.sampled_from(
    [
        "ghcr.io",
        "quay.io",
        "127.0.0.1:5000",
        "localhost",
        "localhost:5000",
        "registry-1.example.com:443",
        "[::1]:5000",
    ]
)
_TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}", fullmatch=True)
_DIGEST = st.binary(max_size=64).map(
    lambda data: "sha256:" + hashlib.sha256(data).hexdigest()
)
_MESSAGE_START = re.compile(r"(invalid image reference |image reference is empty)")


@given(registry=_REGISTRY, repository=_REPOSITORY, tag=_TAG)
def test_parse_keeps_registry_repository_tag(
    registry: str, repository: str, tag: str
) -> None:
    parsed = parse_reference(f"{registry}/{repository}:{tag}")

    assert parsed == ImageReference(registry, repository, tag, None)


@given(repository=_REPOSITORY, tag=st.none() | _TAG, digest=st.none() | _DIGEST)
def test_parse_round_trips_canonical_form(
    repository: str, tag: str | None, digest: str | None
) -> None:
    text = f"docker.io/{repository}"
    if tag:
        text += f":{tag}"
    if digest:
        text += f"@{digest}"

    parsed = parse_reference(text)

    assert parse_reference(str(parsed)) == parsed
    assert parsed.registry == "docker.io"
    assert parsed.digest == digest


@given(component=_COMPONENT)
def test_single_hub_component_gets_library_prefix(component: str) -> None:
    parsed = parse_reference(component)

    assert parsed.repository == f"library/{component}"
    assert parsed.tag == "latest"


@given(text=st.text(max_size=80))
def test_arbitrary_text_parses_or_fails_in_one_line(text: str) -> None:
    try:
        parsed = parse_reference(text)
    except InvalidReferenceError as error:
        message = str(error)
        assert "\n" not in message
        assert _MESSAGE_START.match(message)
        return

    assert parse_reference(str(parsed)) == parsed


@given(repository=_REPOSITORY.filter(lambda name: re.search("[a-z]", name)))
def test_upper_case_repository_is_rejected(repository: str) -> None:
    position = re.search("[a-z]", repository).start()  # type: ignore[union-attr]
    shouted = (
        repository[:position]
        + repository[position].upper()
        + repository[position + 1 :]
    )

    with pytest.raises(InvalidReferenceError, match="must be lower case"):
        parse_reference(f"ghcr.io/{shouted}")


@given(
    repository=_REPOSITORY,
    digest=_DIGEST,
    cut=st.integers(min_value=1, max_value=63),
)
def test_short_digest_is_rejected(repository: str, digest: str, cut: int) -> None:
    with pytest.raises(InvalidReferenceError, match="must have 64 hex characters"):
        parse_reference(f"{repository}@{digest[:-cut]}")


@given(
    repository=_REPOSITORY,
    character=st.characters(min_codepoint=0x80, exclude_categories=["Cs"]),
    where=st.integers(min_value=0, max_value=40),
)
def test_non_ascii_character_is_rejected(
    repository: str, character: str, where: int
) -> None:
    where = min(where, len(repository))
    text = repository[:where] + character + repository[where:]

    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference(text)

    assert "\n" not in str(caught.value)


@given(repository=_REPOSITORY, tag=_TAG)
def test_parsed_parts_match_grammar(repository: str, tag: str) -> None:
    parsed = parse_reference(f"quay.io/{repository}:{tag}")

    assert len(parsed.name) <= 255
    assert parsed.tag is not None
    assert len(parsed.tag) <= 128
    assert parsed.repository == parsed.repository.lower()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "alpine",
            ImageReference("docker.io", "library/alpine", "latest"),
            id="hub-short-name",
        ),
        pytest.param(
            "docker.io/alpine",
            ImageReference("docker.io", "library/alpine", "latest"),
            id="hub-explicit-registry",
        ),
        pytest.param(
            "index.docker.io/library/alpine:3.20",
            ImageReference("docker.io", "library/alpine", "3.20"),
            id="hub-index-alias",
        ),
        pytest.param(
            "bitnami/redis:7",
            ImageReference("docker.io", "bitnami/redis", "7"),
            id="hub-organisation",
        ),
        pytest.param(
            "ghcr.io/org/x:1",
            ImageReference("ghcr.io", "org/x", "1"),
            id="ghcr-untouched",
        ),
        pytest.param(
            "ghcr.io/x",
            ImageReference("ghcr.io", "x", "latest"),
            id="no-library-prefix-off-hub",
        ),
        pytest.param(
            "host:5000/x",
            ImageReference("host:5000", "x", "latest"),
            id="registry-with-port",
        ),
        pytest.param(
            "localhost/x",
            ImageReference("localhost", "x", "latest"),
            id="localhost-registry",
        ),
        pytest.param(
            "127.0.0.1:5000/a/b/c:v1.2_3-x",
            ImageReference("127.0.0.1:5000", "a/b/c", "v1.2_3-x"),
            id="nested-repository",
        ),
        pytest.param(
            f"x@{DIGEST}",
            ImageReference("docker.io", "library/x", None, DIGEST),
            id="digest-only",
        ),
        pytest.param(
            f"x:tag@{DIGEST}",
            ImageReference("docker.io", "library/x", "tag", DIGEST),
            id="tag-and-digest",
        ),
        pytest.param(
            f"quay.io/x@{SHA512}",
            ImageReference("quay.io", "x", None, SHA512),
            id="sha512-digest",
        ),
        pytest.param(
            "org/a__b.c-d---e",
            ImageReference("docker.io", "org/a__b.c-d---e", "latest"),
            id="separators",
        ),
        pytest.param(
            "localhost:5000",
            ImageReference("docker.io", "library/localhost", "5000"),
            id="bare-host-port-is-name-and-tag",
        ),
    ],
)
def test_parse_valid_reference(text: str, expected: ImageReference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(
    ("text", "shown", "reason"),
    [
        pytest.param("", "", "is empty", id="empty"),
        pytest.param("   ", "", "is empty", id="blank"),
        pytest.param("Alpine", "'Alpine'", "lower case", id="upper-case-hub"),
        pytest.param("ghcr.io/Org/x", "'ghcr.io/Org/x'", "lower case", id="upper-case"),
        pytest.param("x@md5:abc", "'x@md5:abc'", "not supported", id="md5-digest"),
        pytest.param(
            f"x@{DIGEST[:-1]}", "'x@sha256:", "64 hex characters", id="short-digest"
        ),
        pytest.param(
            f"x@{DIGEST}0", "'x@sha256:", "64 hex characters", id="long-digest"
        ),
        pytest.param(
            f"x@{DIGEST.upper().replace('SHA', 'sha')}",
            "'x@sha256:",
            "lower-case hex",
            id="upper-case-hex",
        ),
        pytest.param(
            "x@sha256:" + "g" * 64, "'x@sha256:", "lower-case hex", id="non-hex-digest"
        ),
        pytest.param("x@sha256", "'x@sha256'", "has the form", id="digest-no-colon"),
        pytest.param(
            "x@1sha:aa", "'x@1sha:aa'", "malformed", id="digest-bad-algorithm"
        ),
        pytest.param(
            f"x@{DIGEST}@{DIGEST}", "'x@sha256:", "more than one", id="two-at"
        ),
        pytest.param("x:" + "t" * 129, "'x:ttt", "over 128", id="long-tag"),
        pytest.param(
            "ghcr.io/" + "a" * 250, "'ghcr.io/aaa", "over 255", id="long-name"
        ),
        pytest.param("a/../b", "'a/../b'", "'..' is not allowed", id="dot-dot"),
        pytest.param("a..b", "'a..b'", "'..' is not allowed", id="dot-dot-inside"),
        pytest.param("a b", "'a b'", "whitespace at position 1", id="space"),
        pytest.param("a\tb", "'a\\tb'", "whitespace", id="tab"),
        pytest.param("a\x00b", "'a\\x00b'", "control character", id="nul"),
        pytest.param("alpïne", "'alpïne'", "U+00EF", id="unicode"),
        pytest.param("\uff41lpine", "lpine'", "U+FF41", id="fullwidth"),
        pytest.param(
            "http://127.0.0.1:5000/x", "'127.0.0.1:5000/x'", "'http://'", id="scheme"
        ),
        pytest.param(
            "https://user:secret@ghcr.io/x",
            "'ghcr.io/x'",
            "'https://'",
            id="scheme-with-credentials",
        ),
        pytest.param("docker://alpine", "'alpine'", "'docker://'", id="transport"),
        pytest.param("x:", "'x:'", "tag after ':' is empty", id="empty-tag"),
        pytest.param("x:-1", "'x:-1'", "tag '-1' is invalid", id="tag-dash-first"),
        pytest.param("x:a/b", "'x:a/b'", "invalid", id="slash-in-tag"),
        pytest.param("a//b", "'a//b'", "empty path component", id="double-slash"),
        pytest.param("a/", "'a/'", "empty path component", id="trailing-slash"),
        pytest.param("/a", "'/a'", "empty path component", id="leading-slash"),
        pytest.param(
            f"@{DIGEST}", "'@sha256:", "repository name is missing", id="no-name"
        ),
        pytest.param(":tag", "':tag'", "repository name is missing", id="tag-only"),
        pytest.param("-a", "'-a'", "path component '-a'", id="dash-first"),
        pytest.param("a-", "'a-'", "path component 'a-'", id="dash-last"),
        pytest.param("a___b", "'a___b'", "path component", id="triple-underscore"),
        pytest.param("host_1.io/x", "'host_1.io/x'", "registry host", id="bad-host"),
        pytest.param("-h.io/x", "'-h.io/x'", "registry host", id="host-dash-first"),
        pytest.param("a" * 64, "'aaa", "image ID", id="image-id"),
    ],
)
def test_parse_rejects_invalid_reference(text: str, shown: str, reason: str) -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference(text)

    message = str(caught.value)
    assert "\n" not in message
    assert shown in message
    assert reason in message


def test_scheme_message_hides_password() -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference("https://user:secret@ghcr.io/x")

    assert "secret" not in str(caught.value)


def test_long_value_is_shortened_in_message() -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference("x:" + "t" * 5000)

    assert len(str(caught.value)) < 200


def test_default_registry_applies_to_short_names() -> None:
    parsed = parse_reference("team/app:2", default_registry="127.0.0.1:5000")

    assert parsed == ImageReference("127.0.0.1:5000", "team/app", "2")


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        pytest.param(
            ImageReference("docker.io", "library/alpine", "latest"),
            "/v2/library/alpine/manifests/latest",
            id="tag",
        ),
        pytest.param(
            ImageReference("docker.io", "library/alpine", "3", DIGEST),
            f"/v2/library/alpine/manifests/{DIGEST}",
            id="digest-wins",
        ),
    ],
)
def test_api_path(reference: ImageReference, expected: str) -> None:
    assert reference.api_path == expected


def test_str_is_canonical() -> None:
    assert str(parse_reference(f"alpine:3@{DIGEST}")) == (
        f"docker.io/library/alpine:3@{DIGEST}"
    )


def test_urls_target_given_base_url() -> None:
    reference = parse_reference("alpine:3.20")

    manifest = manifest_url("http://127.0.0.1:5000/", reference)
    blob = blob_url("http://127.0.0.1:5000", reference, DIGEST)

    assert manifest == "http://127.0.0.1:5000/v2/library/alpine/manifests/3.20"
    assert blob == f"http://127.0.0.1:5000/v2/library/alpine/blobs/{DIGEST}"


def test_manifest_url_takes_explicit_digest() -> None:
    reference = parse_reference("alpine:3.20")

    url = manifest_url("http://127.0.0.1:5000", reference, DIGEST)

    assert url.endswith(f"/manifests/{DIGEST}")


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param("127.0.0.1:5000", id="no-scheme"),
        pytest.param("ftp://127.0.0.1", id="ftp"),
        pytest.param("http://", id="no-host"),
        pytest.param("http://127.0.0.1:5000/?x=1", id="query"),
        pytest.param("http://user:pw@127.0.0.1:5000", id="credentials"),
    ],
)
def test_normalize_base_url_rejects(base_url: str) -> None:
    with pytest.raises(UsageError) as caught:
        normalize_base_url(base_url)

    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("digest", "problem"),
    [
        pytest.param(DIGEST, None, id="valid"),
        pytest.param("sha256:../../etc/passwd", "lower-case hex", id="path"),
        pytest.param("sha1:" + "a" * 40, "not supported", id="sha1"),
    ],
)
def test_digest_problem(digest: str, problem: str | None) -> None:
    found = digest_problem(digest)

    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
