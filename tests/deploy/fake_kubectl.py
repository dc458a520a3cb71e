"""A stand-in for kubectl that keeps cluster state in a JSON file.

The deploy tests run it as the `kubectl` binary: it records every call in
calls.jsonl, returns objects from state.json for `get`, and changes state.json on
`apply` and `delete` unless `--dry-run=server` is given. The environment
variable FAKE_KUBECTL_FAIL_ROLLOUT makes every `rollout status` fail.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).parent


def key(body: dict) -> list[str]:
    metadata = body["metadata"]
    return [body["kind"], metadata.get("namespace", ""), metadata["name"]]


def main(argv: list[str]) -> int:
    args = [arg for arg in argv if not arg.startswith("--kubeconfig=")]
    with (HERE / "calls.jsonl").open("a", encoding="utf-8") as calls:
        calls.write(json.dumps(args) + "\n")
    state_path = HERE / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else []
    dry_run = "--dry-run=server" in args
    if args[:2] == ["get", "--raw=/readyz"]:
        print("ok")
    elif args[:2] == ["get", "--filename=-"]:
        wanted = [key(item) for item in json.load(sys.stdin)["items"]]
        found = [item for item in state if key(item) in wanted]
        print(json.dumps({"kind": "List", "items": found}))
    elif args[0] == "get":
        print(json.dumps({"kind": "List", "items": state}))
    elif args[0] == "apply":
        for item in json.load(sys.stdin)["items"]:
            print(
                f"{item['kind'].lower()}/{item['metadata']['name']} serverside-applied"
            )
            if not dry_run:
                state = [old for old in state if key(old) != key(item)] + [item]
    elif args[0] == "delete":
        name = args[1].split("/")[1]
        if not dry_run:
            state = [old for old in state if old["metadata"]["name"] != name]
    elif args[:2] == ["rollout", "status"]:
        if os.environ.get("FAKE_KUBECTL_FAIL_ROLLOUT"):
            print("error: timed out waiting for the condition", file=sys.stderr)
            return 1
        print(f"{args[2]} successfully rolled out")
    state_path.write_text(json.dumps(state))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
