"""HTTP helpers shared by the stack tests: the token dance and manifest requests."""

from __future__ import annotations

import httpx

from tests.fixtures.registry import SyntheticImage

MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def client() -> httpx.AsyncClient:
    """Return a client for 127.0.0.1 that ignores proxy environment variables."""
    return httpx.AsyncClient(trust_env=False, timeout=10.0)


async def fetch_token(http: httpx.AsyncClient, hub_url: str, repository: str) -> str:
    """Fetch a pull token for `repository` from the stand-in's token endpoint."""
    response = await http.get(
        f"{hub_url}/token",
        params={
            "service": "registry.docker.io",
            "scope": f"repository:{repository}:pull",
        },
    )
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    """Return request headers that carry `token` and accept every manifest type."""
    return {"authorization": f"Bearer {token}", "accept": MANIFEST_ACCEPT}


def manifest_url(base_url: str, image: SyntheticImage) -> str:
    """Return the URL of the image's manifest by tag."""
    return f"{base_url}/v2/{image.name}/manifests/{image.tag}"


def blob_url(base_url: str, image: SyntheticImage, digest: str) -> str:
    """Return the URL of one blob of the image."""
    return f"{base_url}/v2/{image.name}/blobs/{digest}"
