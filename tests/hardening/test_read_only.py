"""Mirrors are read-only to clients: pushes and deletes are rejected.

Distribution in proxy mode rejects writes with 405 UNSUPPORTED, and the
cluster mirrors also set `storage.maintenance.readonly`, which rejects them
with a plain 405 before they reach the proxy. Both run here as the real
docker-registry 2.8. The pod-level hardening of one mirror container is in
tests/render/test_mirrors.py and tests/render/test_gateway.py; the last test
here extends it to every container of every rendered mirror.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from main.render.mirrors import STORAGE_ROOT
from main.settings import Settings
from main.stack.hub import HubStandin
from main.stack.registry import RegistryServer
from tests.fixtures.registry import OCI_MANIFEST, SyntheticImage
from tests.render.rendered import home_settings, objects

pytestmark = pytest.mark.anyio

ZERO_DIGEST = "sha256:" + "0" * 64


def write_requests(image: SyntheticImage) -> list[tuple[str, str, bytes]]:
    """Return the pushes and deletes a client could try: method, path, body."""
    name = image.name
    layer = image.layer_digests[0]
    return [
        ("POST", f"/v2/{name}/blobs/uploads/", b""),
        ("POST", f"/v2/{name}/blobs/uploads/?digest={ZERO_DIGEST}", b"x"),
        ("POST", f"/v2/{name}/blobs/uploads/?mount={layer}&from=library/x", b""),
        ("PUT", f"/v2/{name}/manifests/{image.tag}", image.manifest),
        ("PUT", f"/v2/{name}/manifests/pushed", image.manifest),
        ("DELETE", f"/v2/{name}/manifests/{image.manifest_digest}", b""),
        ("DELETE", f"/v2/{name}/blobs/{layer}", b""),
    ]


async def cache_image(
    client: httpx.AsyncClient, base_url: str, image: SyntheticImage
) -> str:
    """Pull the image's manifest and blobs through the mirror; return the digest."""
    manifest = await client.get(
        f"{base_url}/v2/{image.name}/manifests/{image.tag}",
        headers={"accept": OCI_MANIFEST},
    )
    for digest in image.blob_digests:
        blob = await client.get(f"{base_url}/v2/{image.name}/blobs/{digest}")
        blob.raise_for_status()
    return manifest.headers["docker-content-digest"]


@pytest.mark.parametrize(
    ("read_only", "error_code"),
    [
        pytest.param(False, "UNSUPPORTED", id="proxy-mode"),
        pytest.param(True, None, id="proxy-and-read-only"),
    ],
)
async def test_mirror_rejects_pushes_and_deletes(
    read_only: bool,
    error_code: str | None,
    synthetic_image: SyntheticImage,
    hub_standin: HubStandin,
    mirror_registry: RegistryServer,
) -> None:
    if read_only:
        await mirror_registry.stop()
        mirror_registry.config = replace(mirror_registry.config, read_only=True)
        await mirror_registry.start()
    base_url = mirror_registry.base_url

    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        cached = await cache_image(client, base_url, synthetic_image)
        await mirror_registry.wait_for_blobs(
            synthetic_image.name, synthetic_image.blob_digests
        )
        responses = [
            await client.request(
                method,
                f"{base_url}{path}",
                content=body,
                # A manifest push names its type, or distribution rejects
                # it as invalid before it checks whether pushes are allowed.
                headers={"content-type": OCI_MANIFEST} if "/manifests/" in path else {},
            )
            for method, path, body in write_requests(synthetic_image)
        ]
        after = await cache_image(client, base_url, synthetic_image)
        pushed = await client.get(
            f"{base_url}/v2/{synthetic_image.name}/manifests/pushed",
            headers={"accept": OCI_MANIFEST},
        )
    uploads = list(mirror_registry.storage_dir.glob("**/_uploads/*"))

    assert [response.status_code for response in responses] == [405] * len(responses)
    if error_code is not None:
        for response in responses:
            assert response.json()["errors"][0]["code"] == error_code
    assert cached == synthetic_image.manifest_digest
    assert after == cached
    assert pushed.status_code == 404
    assert uploads == []


def mirror_containers(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """Return every container and init container of the mirror Deployments."""
    found = []
    for deployment in objects(settings, "Deployment"):
        name = deployment["metadata"]["name"]
        if not name.startswith("mirror-"):
            continue
        pod = deployment["spec"]["template"]["spec"]
        for entry in (*pod.get("initContainers", []), *pod["containers"]):
            found.append((f"{name}/{entry['name']}", entry))
    return found


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(Settings(), id="defaults"),
        pytest.param(home_settings(), id="home"),
    ],
)
def test_every_mirror_container_locked_down(settings: Settings) -> None:
    containers = mirror_containers(settings)

    assert len(containers) >= 2
    for where, entry in containers:
        security = entry["securityContext"]
        assert security["runAsNonRoot"] is True, where
        assert security["readOnlyRootFilesystem"] is True, where
        assert security["allowPrivilegeEscalation"] is False, where
        assert security["capabilities"] == {"drop": ["ALL"]}, where
        assert security.get("privileged", False) is False, where


def test_writable_mounts_are_cache_or_scratch() -> None:
    for deployment in objects(Settings(), "Deployment"):
        if not deployment["metadata"]["name"].startswith("mirror-"):
            continue
        pod = deployment["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for entry in (*pod.get("initContainers", []), *pod["containers"]):
            for mount in entry.get("volumeMounts", []):
                volume = volumes[mount["name"]]
                where = f"{deployment['metadata']['name']}/{entry['name']}"
                if mount.get("readOnly", False):
                    continue
                # Only the cache volume and size-limited scratch space.
                assert "persistentVolumeClaim" in volume or "emptyDir" in volume, where
                if "emptyDir" in volume:
                    assert "sizeLimit" in volume["emptyDir"], where
                else:
                    assert mount["mountPath"].startswith(STORAGE_ROOT), where
