"""Read mirror and engine state from the cluster with kubectl.

The mirrors' NetworkPolicy admits only the engine, and their debug port is on
no Service, so from outside the engine the mirrors are reached through
`kubectl port-forward`, which enters the pod's own network namespace.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
from anyio.abc import Process

from main.deploy.kubectl import Kubectl
from main.errors import ClusterError

__all__ = ["disk_use_bytes", "port_forward", "read_config_map_key"]

logger = logging.getLogger(__name__)

PORT_FORWARD_TIMEOUT = 20.0
_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")


async def read_config_map_key(
    kubectl: Kubectl, namespace: str, name: str, key: str
) -> str:
    """Return one key of a ConfigMap; raise ClusterError if it is missing."""
    output = await kubectl.run(
        ["get", "configmap", name, f"--namespace={namespace}", "--output=json"]
    )
    data = json.loads(output).get("data") or {}
    if key not in data:
        msg = f"ConfigMap {namespace}/{name} has no key {key!r}: deploy again"
        raise ClusterError(msg)
    return str(data[key])


async def disk_use_bytes(
    kubectl: Kubectl, namespace: str, resource: str, path: str
) -> int | None:
    """Return the bytes under `path` in a workload's container, or None if unknown.

    Uses `du -sk` in the container, which the registry image's busybox has;
    an image without `du` gives None.
    """
    try:
        output = await kubectl.run(
            ["exec", f"--namespace={namespace}", resource, "--", "du", "-sk", path]
        )
    except ClusterError as exc:
        logger.info("disk use of %s unknown: %s", resource, exc)
        return None
    first = output.split()[:1]
    return int(first[0]) * 1024 if first and first[0].isdigit() else None


@asynccontextmanager
async def port_forward(
    kubectl: Kubectl, namespace: str, resource: str, ports: Sequence[int]
) -> AsyncIterator[dict[int, int]]:
    """Forward free local ports on 127.0.0.1 to `ports` of a workload's pod.

    Yields the local port for each remote port and stops kubectl on exit.
    """
    command = [
        kubectl.binary,
        f"--kubeconfig={kubectl.kubeconfig}",
        "port-forward",
        f"--namespace={namespace}",
        "--address=127.0.0.1",
        resource,
        *(f":{port}" for port in ports),
    ]
    logger.info("kubectl port-forward %s %s", resource, ports)
    process = await anyio.open_process(command)
    try:
        yield await _forwarded_ports(process, resource, len(ports))
    finally:
        process.terminate()
        with anyio.move_on_after(5):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _forwarded_ports(
    process: Process, resource: str, count: int
) -> dict[int, int]:
    local_ports: dict[int, int] = {}
    buffer = ""
    if process.stdout is None:
        msg = f"kubectl port-forward to {resource} has no output stream"
        raise ClusterError(msg)
    with anyio.move_on_after(PORT_FORWARD_TIMEOUT):
        async for chunk in process.stdout:
            buffer += chunk.decode("utf-8", "replace")
            for local, remote in _FORWARDING.findall(buffer):
                local_ports[int(remote)] = int(local)
            if len(local_ports) == count:
                return local_ports
    msg = (
        f"kubectl port-forward to {resource} did not start within "
        f"{PORT_FORWARD_TIMEOUT:g}s: check that the workload is running"
    )
    raise ClusterError(msg)
