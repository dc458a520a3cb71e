"""A stand-in for kubectl that handles the calls `status` makes.

The status tests run it as the `kubectl` binary. `port-forward` prints the
lines that kubectl prints and maps each requested pod port to the local port
that FAKE_KUBECTL_PORTS names ("5000=41000,5001=41001"), then waits until it
is terminated (at most 60 s). `exec ... du` prints a disk use of 2048 KiB, and
`get configmap` returns FAKE_KUBECTL_ENGINE_JSON as `engine.json`. Every call
is recorded in calls.jsonl beside the script.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    args = [arg for arg in argv if not arg.startswith("--kubeconfig=")]
    with (HERE / "calls.jsonl").open("a", encoding="utf-8") as calls:
        calls.write(json.dumps(args) + "\n")
    if args[0] == "port-forward":
        ports = dict(
            item.split("=", 1) for item in os.environ["FAKE_KUBECTL_PORTS"].split(",")
        )
        for remote in (arg[1:] for arg in args if arg.startswith(":")):
            print(f"Forwarding from 127.0.0.1:{ports[remote]} -> {remote}", flush=True)
        time.sleep(60)
        return 0
    if args[0] == "exec":
        print("2048\t/var/lib/registry")
        return 0
    if args[:2] == ["get", "configmap"]:
        engine_json = os.environ["FAKE_KUBECTL_ENGINE_JSON"]
        print(json.dumps({"data": {"engine.json": engine_json}}))
        return 0
    print(f"error: unexpected call {args}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
