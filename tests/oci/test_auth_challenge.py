import pytest

from main.oci.auth import Challenge, RegistryTokenAuth, parse_challenge, scope_for_path


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            'Bearer realm="http://127.0.0.1:9/token",service="registry.docker.io",'
            'scope="repository:library/debian:pull"',
            Challenge(
                "bearer",
                "http://127.0.0.1:9/token",
                "registry.docker.io",
                "repository:library/debian:pull",
            ),
            id="docker-hub",
        ),
        pytest.param(
            'bearer realm="https://r/t", service=svc',
            Challenge("bearer", "https://r/t", "svc", ""),
            id="unquoted-and-spaces",
        ),
        pytest.param(
            'Bearer realm="https://r/t",scope="repository:a:pull repository:b:pull"',
            Challenge(
                "bearer", "https://r/t", "", "repository:a:pull repository:b:pull"
            ),
            id="two-scopes",
        ),
        pytest.param(
            'Basic realm="Registry Realm"',
            Challenge("basic", "Registry Realm"),
            id="basic",
        ),
        pytest.param("Negotiate abc", None, id="unknown-scheme"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="missing"),
    ],
)
def test_parse_challenge(header: str | None, expected: Challenge | None) -> None:
    assert parse_challenge(header) == expected


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        pytest.param(
            "/v2/library/debian/manifests/bookworm",
            "repository:library/debian:pull",
            id="manifest",
        ),
        pytest.param(
            "/v2/a/b/c/blobs/sha256:00", "repository:a/b/c:pull", id="nested-blob"
        ),
        pytest.param("/v2/", "", id="api-root"),
        pytest.param("/token", "", id="other"),
    ],
)
def test_scope_for_path(path: str, scope: str) -> None:
    assert scope_for_path(path) == scope


def test_credentials_need_both_parts() -> None:
    with pytest.raises(ValueError, match="both a user name and a password"):
        RegistryTokenAuth(username="user")
