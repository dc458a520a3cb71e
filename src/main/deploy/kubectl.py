"""Run kubectl against one kubeconfig: read, apply, delete and wait for rollouts.

Every call has a timeout, and a failure becomes a ClusterError whose message
is kubectl's own first error line. Objects go to kubectl as JSON on standard
input, so nothing rendered is written to disk.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio

from main.deploy.objects import MANAGED_BY, MANAGED_BY_LABEL, KubeObject, ObjectKey
from main.errors import ClusterError

__all__ = ["FIELD_MANAGER", "Kubectl"]

logger = logging.getLogger(__name__)

FIELD_MANAGER = MANAGED_BY
DEFAULT_TIMEOUT = 120.0
# Extra seconds for kubectl itself around a rollout wait that has its own timeout.
_ROLLOUT_GRACE = 30.0


class Kubectl:
    """kubectl bound to one kubeconfig file, with a timeout for every call."""

    def __init__(
        self,
        kubeconfig: Path,
        *,
        binary: str = "kubectl",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.binary = binary
        self.timeout = timeout

    async def run(
        self,
        args: Sequence[str],
        *,
        stdin: bytes | None = None,
        time_limit: float | None = None,
    ) -> str:
        """Run `kubectl ARGS` and return its standard output.

        Raises ClusterError when kubectl is missing, fails or times out.
        """
        command = [self.binary, f"--kubeconfig={self.kubeconfig}", *args]
        seconds = time_limit or self.timeout
        logger.info("kubectl %s", " ".join(args))
        try:
            with anyio.fail_after(seconds):
                result = await anyio.run_process(command, input=stdin, check=False)
        except FileNotFoundError:
            msg = f"kubectl not found as {self.binary!r}: install kubectl and retry"
            raise ClusterError(msg) from None
        except TimeoutError:
            msg = f"kubectl {args[0]} timed out after {seconds:g}s: check the cluster"
            raise ClusterError(msg) from None
        if result.returncode != 0:
            raise ClusterError(_failure_message(args, result))
        return result.stdout.decode("utf-8", "replace")

    async def unreachable_reason(self) -> str | None:
        """Return why the API server cannot be reached, or None if it responds."""
        try:
            await self.run(["get", "--raw=/readyz"], time_limit=min(self.timeout, 20.0))
        except ClusterError as exc:
            return str(exc)
        return None

    async def get_live(self, objects: Sequence[KubeObject]) -> dict[ObjectKey, Any]:
        """Return the live body of each of these objects that exists, by key."""
        if not objects:
            return {}
        output = await self.run(
            ["get", "--filename=-", "--ignore-not-found", "--output=json"],
            stdin=_as_list(objects),
        )
        return {obj.key: obj.body for obj in _parse_objects(output)}

    async def list_managed(self, kinds: Sequence[str]) -> list[KubeObject]:
        """Return every live object of these kinds labelled as managed by this tool."""
        output = await self.run(
            [
                "get",
                ",".join(kind.lower() for kind in kinds),
                "--all-namespaces",
                f"--selector={MANAGED_BY_LABEL}={MANAGED_BY}",
                "--output=json",
            ]
        )
        return [obj for obj in _parse_objects(output) if obj.managed]

    async def apply(self, objects: Sequence[KubeObject], *, dry_run: bool) -> str:
        """Server-side apply these objects in the given order, taking over conflicts."""
        args = [
            "apply",
            "--server-side",
            f"--field-manager={FIELD_MANAGER}",
            "--force-conflicts",
            "--filename=-",
        ]
        if dry_run:
            args.append("--dry-run=server")
        return await self.run(args, stdin=_as_list(objects))

    async def delete(self, obj: KubeObject, *, dry_run: bool) -> str:
        """Delete one object without waiting for its finalizers."""
        args = ["delete", obj.key.resource, "--ignore-not-found", "--wait=false"]
        if obj.key.namespace:
            args.append(f"--namespace={obj.key.namespace}")
        if dry_run:
            args.append("--dry-run=server")
        return await self.run(args)

    async def rollout_status(self, obj: KubeObject, wait_seconds: float) -> str:
        """Wait until a workload's rollout finishes, or fail after `wait_seconds`."""
        args = ["rollout", "status", obj.key.resource, f"--timeout={wait_seconds:g}s"]
        if obj.key.namespace:
            args.append(f"--namespace={obj.key.namespace}")
        return await self.run(args, time_limit=wait_seconds + _ROLLOUT_GRACE)


def _as_list(objects: Sequence[KubeObject]) -> bytes:
    document = {"apiVersion": "v1", "kind": "List", "items": [o.body for o in objects]}
    return json.dumps(document).encode()


def _parse_objects(output: str) -> list[KubeObject]:
    """Parse `kubectl get -o json` output: one object, a List, or nothing."""
    if not output.strip():
        return []
    try:
        document: Mapping[str, Any] = json.loads(output)
    except json.JSONDecodeError as exc:
        msg = f"kubectl returned output that is not JSON ({exc.msg}): retry with -v"
        raise ClusterError(msg) from exc
    items = document.get("items") if document.get("kind") == "List" else [document]
    return [KubeObject.from_body(item, "kubectl output") for item in items or []]


def _failure_message(
    args: Sequence[str], result: subprocess.CompletedProcess[bytes]
) -> str:
    stderr = result.stderr.decode("utf-8", "replace").strip()
    lines = [line for line in stderr.splitlines() if line.strip()]
    detail = lines[0] if lines else f"exit status {result.returncode}"
    return f"kubectl {args[0]} failed: {detail}"
