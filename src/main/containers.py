"""Build the containers that the Dagger functions run or return.

`toolbox` is the repository with everything `scripts/setup` installs, for the
functions that run this project's CLI or scripts. `gateway_image` is the
gateway sidecar's image. Building them is lazy, so importing this file and
calling these functions needs no engine until a result is awaited.
"""

from __future__ import annotations

import dagger
from dagger import dag

from main.render.mirrors import MIRROR_USER
from main.settings import Gateway

__all__ = [
    "BASE_IMAGE",
    "GATEWAY_VENV",
    "KUBECTL_IMAGE",
    "UV_CACHE",
    "WORKDIR",
    "debian_with",
    "gateway_environment",
    "gateway_image",
    "toolbox",
]

# Debian 12, the release that scripts/setup and the development machines use,
# so the container gets the same docker-registry (2.8.2) and mmdebstrap.
# NOTE: pinned by tag only: no digest could be checked from the development
# machines, which reach no container registry.
BASE_IMAGE = "docker.io/library/debian:bookworm-slim"
# kubectl from the Kubernetes project's own image (the binary is /bin/kubectl);
# Debian 12 ships kubectl 1.20, too old for current clusters.
# NOTE: pinned by tag only, for the same reason as BASE_IMAGE.
KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.32.3"

# uv for the gateway image's build stage: the version on the development
# machines, which write uv.lock.
UV_VERSION = "0.13.9"
# The gateway image's virtual environment, copied from the build stage.
GATEWAY_VENV = "/opt/registry-mirror"

WORKDIR = "/work/registry-mirror"
UV_CACHE = "registry-mirror-uv"


def gateway_image(source_dir: dagger.Directory) -> dagger.Container:
    """Build the gateway image: this project's environment on Debian, as non-root.

    The entrypoint is `registry-mirror gateway`, so a pod passes only the
    gateway's options as arguments.
    """
    # NOTE: never built on the development machines, which have no Dagger
    # engine; only the chain of calls is checked there.
    user = f"{MIRROR_USER}:{MIRROR_USER}"
    return (
        debian_with(["python3"])
        .with_directory(GATEWAY_VENV, gateway_environment(source_dir))
        .with_env_variable("PATH", f"{GATEWAY_VENV}/bin:$PATH", expand=True)
        # The root filesystem is read-only in the pod, and the build compiled
        # the bytecode already.
        .with_env_variable("PYTHONDONTWRITEBYTECODE", "1")
        .with_env_variable("PYTHONUNBUFFERED", "1")
        .with_user(user)
        .with_exposed_port(Gateway().port)
        .with_entrypoint(["registry-mirror", "gateway"])
    )


def toolbox(source_dir: dagger.Directory) -> dagger.Container:
    """Build a Debian container with the project installed by scripts/setup.

    setup runs on the files it needs only, so a change to the code reuses the
    installed packages and environment from Dagger's cache.
    """
    setup_inputs = source_dir.filter(
        include=[
            "pyproject.toml",
            "uv.lock",
            "README.md",
            "scripts/",
            "src/main/__init__.py",
        ]
    )
    kubectl = dag.container().from_(KUBECTL_IMAGE).file("/bin/kubectl")
    return (
        dag.container()
        .from_(BASE_IMAGE)
        # scripts/setup installs kubectl from Debian only when none is found.
        .with_file("/usr/local/bin/kubectl", kubectl, permissions=0o755)
        .with_mounted_cache("/root/.cache/uv", dag.cache_volume(UV_CACHE))
        .with_env_variable("UV_LINK_MODE", "copy")
        .with_env_variable("PATH", "/root/.local/bin:$PATH", expand=True)
        .with_workdir(WORKDIR)
        .with_directory(WORKDIR, setup_inputs)
        .with_exec(["./scripts/setup"])
        .with_directory(WORKDIR, source_dir)
    )


def debian_with(packages: list[str]) -> dagger.Container:
    """Return the Debian base image with these packages and no package lists."""
    install = (
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y"
        " -qq --no-install-recommends "
        + " ".join(packages)
        + " && rm -rf /var/lib/apt/lists/*"
    )
    return dag.container().from_(BASE_IMAGE).with_exec(["sh", "-c", install])


def gateway_environment(source_dir: dagger.Directory) -> dagger.Directory:
    """Build the virtual environment with this project and its locked dependencies.

    It is built on the same Debian image as the gateway image, with Debian's
    Python, so its interpreter link stays valid after the copy. The project is
    installed as a wheel, so the environment needs no source tree.
    """
    project = source_dir.filter(
        include=["pyproject.toml", "uv.lock", "README.md", "src/"]
    )
    return (
        debian_with(["python3", "python3-venv"])
        .with_exec(["python3", "-m", "venv", "/opt/uv"])
        .with_exec(["/opt/uv/bin/pip", "install", "-q", f"uv=={UV_VERSION}"])
        .with_mounted_cache("/root/.cache/uv", dag.cache_volume(UV_CACHE))
        .with_env_variable("UV_LINK_MODE", "copy")
        .with_env_variable("UV_PYTHON", "/usr/bin/python3")
        .with_env_variable("UV_PYTHON_DOWNLOADS", "never")
        .with_env_variable("UV_PROJECT_ENVIRONMENT", GATEWAY_VENV)
        .with_env_variable("UV_COMPILE_BYTECODE", "1")
        .with_workdir("/src")
        .with_directory("/src", project)
        .with_exec(["/opt/uv/bin/uv", "sync", "--frozen", "--no-dev", "--no-editable"])
        .directory(GATEWAY_VENV)
    )
