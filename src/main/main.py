"""The Dagger module: thin functions over this project's own code and scripts.

`render` and `build-mirror` call the pure renderers in-process, and
`build-gateway` packages this project as the gateway sidecar's image. The
other functions run this project's CLI or scripts in a container built from
the same repository (`scripts/setup` installs what they need), so
`dagger call` and the plain CLI run the same code. Importing this file needs
no engine.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import dagger
from dagger import (
    DefaultPath,
    Doc,
    Ignore,
    Name,
    ReturnType,
    check,
    dag,
    function,
    object_type,
)

from main.cli.assignments import parse_assignments
from main.containers import gateway_image, toolbox
from main.errors import UsageError
from main.render import render_manifests
from main.render.engine_objects import ENGINE_NAME
from main.render.mirrors import (
    CONFIG_DIRECTORY,
    MIRROR_USER,
    STORAGE_ROOT,
    mirror_config,
)
from main.settings import DEFAULT_SETTINGS_FILE, Settings, parse_settings

# Paths that are caches or build output: they never reach a container, so
# they can neither break a build nor invalidate Dagger's cache.
SOURCE_IGNORE = [
    ".git",
    ".venv",
    "**/__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "sdk",
    "src/dagger_gen.py",
    "out",
    "benchmark-results",
    "dist",
    "build",
]

OUTPUT_DIR = "/work/output"
KUBECONFIG_PATH = "/run/secrets/kubeconfig"
LEGACY_CONFIG_PATH = "/work/legacy/buildkitd.toml"
IMAGE_CACHE = "registry-mirror-test-images"
# Folder in which the image builder keeps the Debian images it built.
IMAGE_CACHE_PATH = "/root/.cache/registry-mirror"

Function = TypeVar("Function", bound=Callable[..., Any])


def _never_cached(func: Function) -> Function:
    """Expose `func` as a Dagger function whose result is never reused.

    Same as `@function(cache="never")`, whose `cache` argument the type
    hints of dagger-io 0.21.11 leave out although the code accepts it.
    """
    expose: Any = function
    exposed: Function = expose(func, cache="never")
    return exposed


SourceDir = Annotated[
    dagger.Directory,
    DefaultPath("/"),
    Ignore(SOURCE_IGNORE),
    Doc("Repository with the project and its settings file (default: this one)"),
]
SettingsFile = Annotated[str, Doc("Settings file, relative to the source directory")]
Overrides = Annotated[
    list[str] | None,
    Name("set"),
    Doc("Override one setting as KEY=VALUE, such as storage.size=100Gi; repeatable"),
]


@object_type
class RegistryMirror:
    """Pull-through registry mirrors for a self-hosted Dagger engine."""

    @function
    async def build_mirror(
        self,
        source_dir: SourceDir,
        upstream: Annotated[
            str, Doc("Registry whose mirror to build, such as docker.io or ghcr.io")
        ] = "docker.io",
        settings_file: SettingsFile = DEFAULT_SETTINGS_FILE,
        set_: Overrides = None,
    ) -> dagger.Container:
        """Build one mirror's image: registry:3, configured to pull via the gateway."""
        settings = await _settings(source_dir, settings_file, set_)
        selected = [u for u in settings.upstreams if u.registry == upstream]
        if not selected:
            known = ", ".join(u.registry for u in settings.upstreams)
            msg = f"no mirror for {upstream!r} in the settings; choose one of: {known}"
            raise UsageError(msg)
        user = f"{MIRROR_USER}:{MIRROR_USER}"
        config_path = f"{CONFIG_DIRECTORY}/config.yml"
        return (
            dag.container()
            .from_(settings.mirror.image)
            .with_new_file(config_path, mirror_config(settings, selected[0]))
            .with_directory(STORAGE_ROOT, dag.directory(), owner=user)
            .with_user(user)
            .with_exposed_port(settings.mirror.port)
            .with_exposed_port(settings.mirror.debug_port)
            .with_default_args(["serve", config_path])
        )

    @function
    def build_gateway(self, source_dir: SourceDir) -> dagger.Container:
        """Build the gateway sidecar's image: this project, run as non-root."""
        return gateway_image(source_dir)

    @function
    async def render(
        self,
        source_dir: SourceDir,
        settings_file: SettingsFile = DEFAULT_SETTINGS_FILE,
        set_: Overrides = None,
    ) -> dagger.Directory:
        """Render the Kubernetes manifests (a kustomize base) from the settings file."""
        settings = await _settings(source_dir, settings_file, set_)
        directory = dag.directory()
        for name, text in sorted(render_manifests(settings).items()):
            directory = directory.with_new_file(name, text)
        return directory

    @_never_cached
    async def deploy(
        self,
        kubeconfig: Annotated[
            dagger.Secret, Doc("Kubeconfig of the cluster, as a secret (file:PATH)")
        ],
        source_dir: SourceDir,
        dry_run: Annotated[
            bool, Doc("Print the plan and validate it on the server; change nothing")
        ] = False,
        rollout_timeout: Annotated[
            int, Doc("Seconds each workload may take to roll out")
        ] = 300,
        settings_file: SettingsFile = DEFAULT_SETTINGS_FILE,
        set_: Overrides = None,
    ) -> str:
        """Apply the rendered manifests with server-side apply; prune and wait."""
        args = ["deploy", f"--kubeconfig={KUBECONFIG_PATH}"]
        # This function may run inside the engine it updates. The StatefulSet
        # replaces that pod as soon as its spec changes, which ends this
        # session, so waiting for its rollout from here cannot succeed.
        args += [f"--rollout-timeout={rollout_timeout}", f"--no-wait={ENGINE_NAME}"]
        if dry_run:
            args.append("--dry-run")
        return await (
            toolbox(source_dir)
            .with_mounted_secret(KUBECONFIG_PATH, kubeconfig)
            .with_env_variable("REGISTRY_MIRROR_RUN", _run_id())
            .with_exec(_cli(args, settings_file, set_))
            .stdout()
        )

    @_never_cached
    async def status(
        self,
        source_dir: SourceDir,
        kubeconfig: Annotated[
            dagger.Secret | None,
            Doc("Kubeconfig, to read the engine config, counters and disk use"),
        ] = None,
        mirror: Annotated[
            list[str] | None,
            Doc("Mirror to inspect as REGISTRY=URL (default: the rendered Services)"),
        ] = None,
        gateway: Annotated[
            list[str] | None,
            Doc("Gateway whose metrics to read, as REGISTRY=URL; repeatable"),
        ] = None,
        legacy_config: Annotated[
            dagger.File | None,
            Doc(
                "An old buildkitd.toml to explain: what it did wrong, what replaces it"
            ),
        ] = None,
        settings_file: SettingsFile = DEFAULT_SETTINGS_FILE,
        set_: Overrides = None,
    ) -> str:
        """Report what the mirrors hold and whether the engine uses them."""
        container = toolbox(source_dir).with_env_variable(
            "REGISTRY_MIRROR_RUN", _run_id()
        )
        args = ["status"]
        if kubeconfig is not None:
            container = container.with_mounted_secret(KUBECONFIG_PATH, kubeconfig)
            args.append(f"--kubeconfig={KUBECONFIG_PATH}")
        if legacy_config is not None:
            container = container.with_file(LEGACY_CONFIG_PATH, legacy_config)
            args.append(f"--legacy-config={LEGACY_CONFIG_PATH}")
        args += [f"--mirror={item}" for item in mirror or []]
        args += [f"--gateway={item}" for item in gateway or []]
        # status exits 1 after printing its report when a mirror cannot be
        # read, and that report is what the caller needs in both cases.
        command = _cli(args, settings_file, set_)
        return await container.with_exec(command, expect=ReturnType.ANY).stdout()

    @_never_cached
    async def benchmark(
        self,
        source_dir: SourceDir,
        mirror: Annotated[
            str | None,
            Doc("URL of a real mirror to measure (default: the embedded stack)"),
        ] = None,
        image: Annotated[
            list[str] | None, Doc("Image to pull, such as alpine:3.20; repeatable")
        ] = None,
        concurrency: Annotated[int, Doc("Clients pulling at once")] = 8,
        warm_rounds: Annotated[int, Doc("Warm pulls measured")] = 3,
        metrics_url: Annotated[
            str | None,
            Doc("With mirror: the gateway's /metrics URL, to count upstream traffic"),
        ] = None,
    ) -> dagger.Directory:
        """Run the benchmark; return a directory with the table, JSON and chart."""
        args = [
            "benchmark",
            f"--output-dir={OUTPUT_DIR}",
            f"--concurrency={concurrency}",
            f"--warm-rounds={warm_rounds}",
        ]
        args += [f"--image={item}" for item in image or []]
        if mirror is not None:
            args.append(f"--mirror={mirror}")
        if metrics_url is not None:
            args.append(f"--metrics-url={metrics_url}")
        command = _uv_run(["registry-mirror", *args])
        table = f"{OUTPUT_DIR}/benchmark.txt"
        return (
            toolbox(source_dir)
            .with_mounted_cache(IMAGE_CACHE_PATH, dag.cache_volume(IMAGE_CACHE))
            .with_directory(OUTPUT_DIR, dag.directory())
            .with_env_variable("REGISTRY_MIRROR_RUN", _run_id())
            .with_exec(
                command,
                redirect_stdout=table,
                insecure_root_capabilities=True,
            )
            .directory(OUTPUT_DIR)
        )

    @_never_cached
    async def warm(
        self,
        source_dir: SourceDir,
        image: Annotated[
            list[str] | None, Doc("Image to pre-pull, such as alpine:3.20; repeatable")
        ] = None,
        discover: Annotated[
            bool,
            Doc(
                "Also pre-pull the images named in the source's workflows, "
                "Dockerfiles and Dagger module"
            ),
        ] = True,
        platform: Annotated[
            list[str] | None,
            Doc("Platform to pull, such as linux/arm64; repeatable (default: all)"),
        ] = None,
        mirror: Annotated[
            list[str] | None,
            Doc("Mirror as REGISTRY=URL (default: the rendered Services)"),
        ] = None,
        settings_file: SettingsFile = DEFAULT_SETTINGS_FILE,
    ) -> str:
        """Pre-pull images into the mirrors so the next CI jobs find them warm."""
        args = ["warm", f"--settings={settings_file}"]
        args += [f"--image={item}" for item in image or []]
        args += [f"--platform={item}" for item in platform or []]
        args += [f"--mirror={item}" for item in mirror or []]
        if discover:
            args.append("--discover=.")
        return await (
            toolbox(source_dir)
            .with_env_variable("REGISTRY_MIRROR_RUN", _run_id())
            .with_exec(_uv_run(["registry-mirror", *args]))
            .stdout()
        )

    @function
    @check
    async def lint(self, source_dir: SourceDir) -> str:
        """Run scripts/lint: ruff check, ruff format --check and mypy."""
        return await toolbox(source_dir).with_exec(["./scripts/lint"]).stdout()

    @function
    @check
    async def test(
        self,
        source_dir: SourceDir,
        pytest_args: Annotated[
            list[str] | None, Doc("Extra pytest arguments, such as -k render")
        ] = None,
    ) -> str:
        """Run scripts/test: the whole pytest suite, including the slow tests."""
        return await (
            toolbox(source_dir)
            .with_mounted_cache(IMAGE_CACHE_PATH, dag.cache_volume(IMAGE_CACHE))
            # mmdebstrap builds the test images in a user namespace of its own.
            .with_exec(
                ["./scripts/test", *(pytest_args or [])],
                insecure_root_capabilities=True,
            )
            .stdout()
        )


async def _settings(
    source_dir: dagger.Directory, settings_file: str, overrides: list[str] | None
) -> Settings:
    """Read and validate the settings file in `source_dir` with its overrides."""
    text = await source_dir.file(settings_file).contents()
    data: dict[str, Any] = tomllib.loads(text)
    return parse_settings(data, parse_assignments(overrides or []))


def _cli(args: list[str], settings_file: str, overrides: list[str] | None) -> list[str]:
    """Return the command that runs `registry-mirror ARGS` with settings options."""
    settings_args = [f"--settings={settings_file}"]
    settings_args += [f"--set={item}" for item in overrides or []]
    return _uv_run(["registry-mirror", *args, *settings_args])


def _uv_run(command: list[str]) -> list[str]:
    return ["uv", "run", "--frozen", *command]


def _run_id() -> str:
    """Return a value that differs per call, so Dagger never reuses a cached run.

    Deploy, status and benchmark read live state; an identical command line
    must still run again.
    """
    return datetime.now(UTC).isoformat()
