"""Write the kustomize base: `python -m main.render [OUT_DIR] [SETTINGS_FILE]`.

OUT_DIR defaults to `k8s`, SETTINGS_FILE to `registry-mirror.toml` in the
current directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

from main.errors import RegistryMirrorError
from main.render.output import write_manifests
from main.settings import DEFAULT_SETTINGS_FILE, load_settings


def main(argv: list[str]) -> int:
    """Render the manifests and print one line; return the exit code."""
    if len(argv) > 2 or any(arg.startswith("-") for arg in argv):
        print("usage: python -m main.render [OUT_DIR] [SETTINGS_FILE]", file=sys.stderr)
        return 2
    out_dir = Path(argv[0] if argv else "k8s")
    settings_file = Path(argv[1] if len(argv) > 1 else DEFAULT_SETTINGS_FILE)
    try:
        files = write_manifests(load_settings(settings_file), out_dir)
    except RegistryMirrorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(files)} files to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
