"""Tests of the Dagger module's registration, run by the SDK without an engine.

The SDK registers a module by building a chain of lazy API calls (module,
withObject, withFunction, withArg, ...) and sending it when it requests the
module's ID. Here `Module.id` is replaced, so the chain that dagger-io builds
for this module is captured and read instead of sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import dagger
import pytest
from dagger import dag
from dagger.mod import default_module

from main.containers import BASE_IMAGE, GATEWAY_VENV
from main.main import SOURCE_IGNORE, RegistryMirror
from main.render.mirrors import MIRROR_USER

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = {
    "build_mirror",
    "build_gateway",
    "render",
    "deploy",
    "status",
    "benchmark",
    "warm",
    "lint",
    "test",
}


@dataclass
class Registered:
    """One function as the SDK registers it."""

    description: str = ""
    check: bool = False
    cache_policy: str | None = None
    args: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def registration() -> tuple[str, dict[str, Registered]]:
    """Run the SDK's registration and return the module description and functions."""
    module = default_module()
    captured: list[Any] = []

    async def capture_id(self: dagger.Module) -> str:
        captured.append(self)
        return "captured"

    with pytest.MonkeyPatch.context() as patch:
        # The runtime sets both from DAGGER_MAIN_OBJECT before it imports
        # the module; here the class was imported without that variable.
        patch.setattr(module, "_main_name", "RegistryMirror")
        patch.setattr(module, "_main", RegistryMirror.__dagger_object_type__)
        patch.setattr(dagger.Module, "id", capture_id)
        anyio.run(module._typedefs)

    return _read_module(captured[0])


def _selections(obj: Any) -> Iterator[Any]:
    yield from obj._ctx.selections


def _read_module(module: Any) -> tuple[str, dict[str, Registered]]:
    description = ""
    functions: dict[str, Registered] = {}
    for selection in _selections(module):
        if selection.name == "withDescription":
            description = selection.args["description"]
        if selection.name == "withObject":
            functions.update(_read_object(selection.args["object"]))
    return description, functions


def _read_object(type_def: Any) -> dict[str, Registered]:
    functions: dict[str, Registered] = {}
    for selection in _selections(type_def):
        if selection.name != "withFunction":
            continue
        name, registered = _read_function(selection.args["function"])
        functions[name] = registered
    return functions


def _read_function(function: Any) -> tuple[str, Registered]:
    name = ""
    registered = Registered()
    for selection in _selections(function):
        if selection.name == "function":
            name = selection.args["name"]
        elif selection.name == "withDescription":
            registered.description = selection.args["description"]
        elif selection.name == "withCheck":
            registered.check = True
        elif selection.name == "withCachePolicy":
            registered.cache_policy = str(selection.args["policy"])
        elif selection.name == "withArg":
            registered.args[selection.args["name"]] = selection.args
    return name, registered


def test_main_object_is_the_module_class() -> None:
    assert RegistryMirror.__name__ == "RegistryMirror"


def test_module_description_is_package_docstring(
    registration: tuple[str, dict[str, Registered]],
) -> None:
    description, _ = registration

    assert description.startswith("Pull-through registry mirrors")


def test_every_function_is_registered(
    registration: tuple[str, dict[str, Registered]],
) -> None:
    _, functions = registration

    assert set(functions) == FUNCTIONS


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_has_one_line_summary(
    registration: tuple[str, dict[str, Registered]], name: str
) -> None:
    description = registration[1][name].description

    assert description
    assert "\n" not in description
    assert description.endswith(".")


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_argument_has_a_description(
    registration: tuple[str, dict[str, Registered]], name: str
) -> None:
    args = registration[1][name].args

    undocumented = [arg for arg, spec in args.items() if not spec.get("description")]

    assert undocumented == []


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_source_dir_defaults_to_repository_root(
    registration: tuple[str, dict[str, Registered]], name: str
) -> None:
    source_dir = registration[1][name].args["source_dir"]

    assert source_dir["defaultPath"] == "/"
    assert source_dir["ignore"] == SOURCE_IGNORE


def test_source_dir_ignores_caches_and_output() -> None:
    for path in (".venv", "**/__pycache__", ".mypy_cache", "out", "sdk"):
        assert path in SOURCE_IGNORE


@pytest.mark.parametrize(
    ("name", "is_check"),
    [
        pytest.param("lint", True, id="lint"),
        pytest.param("test", True, id="test"),
        pytest.param("deploy", False, id="deploy"),
        pytest.param("render", False, id="render"),
    ],
)
def test_lint_and_test_are_checks(
    registration: tuple[str, dict[str, Registered]], name: str, is_check: bool
) -> None:
    assert registration[1][name].check is is_check


@pytest.mark.parametrize("name", ["deploy", "status", "benchmark"])
def test_live_state_functions_are_never_cached(
    registration: tuple[str, dict[str, Registered]], name: str
) -> None:
    never = dagger.FunctionCachePolicy.Never.value

    assert registration[1][name].cache_policy == never


def test_settings_overrides_are_named_set(
    registration: tuple[str, dict[str, Registered]],
) -> None:
    assert "set" in registration[1]["render"].args


def test_deploy_takes_kubeconfig_as_secret(
    registration: tuple[str, dict[str, Registered]],
) -> None:
    kubeconfig = registration[1]["deploy"].args["kubeconfig"]

    selections = [s.name for s in _selections(kubeconfig["typeDef"])]
    names = [s.args.get("name") for s in _selections(kubeconfig["typeDef"]) if s.args]
    assert "withObject" in selections
    assert "Secret" in names


def test_dagger_json_names_module_and_python_sdk() -> None:
    config = json.loads((ROOT / "dagger.json").read_text(encoding="utf-8"))

    assert config["name"] == "registry-mirror"
    assert config["sdk"] == {"source": "python"}
    assert config["source"] == "."


def test_runtime_finds_main_object_by_entry_point() -> None:
    from dagger.mod.cli import get_entry_point

    loaded = get_entry_point().load()

    assert loaded is RegistryMirror


def _calls(obj: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(selection.name, selection.args) for selection in _selections(obj)]


def test_gateway_image_runs_gateway_as_non_root() -> None:
    image = RegistryMirror().build_gateway(dag.directory())

    calls = _calls(image)

    assert calls[1] == ("from", {"address": BASE_IMAGE})
    assert ("withUser", {"name": f"{MIRROR_USER}:{MIRROR_USER}"}) in calls
    assert calls[-1] == ("withEntrypoint", {"args": ["registry-mirror", "gateway"]})
    assert ("withExposedPort", {"port": 5002}) in calls


def test_gateway_image_installs_locked_project() -> None:
    image = RegistryMirror().build_gateway(dag.directory())

    copied = [args for name, args in _calls(image) if name == "withDirectory"]
    environment = _calls(copied[0]["source"])

    assert copied[0]["path"] == GATEWAY_VENV
    assert (
        "withExec",
        {"args": ["/opt/uv/bin/uv", "sync", "--frozen", "--no-dev", "--no-editable"]},
    ) in environment
    assert ("withEnvVariable", {"name": "UV_PYTHON_DOWNLOADS", "value": "never"}) in (
        environment
    )
    assert environment[-1] == ("directory", {"path": GATEWAY_VENV})


def test_status_takes_gateway_urls(
    registration: tuple[str, dict[str, Registered]],
) -> None:
    gateway = registration[1]["status"].args["gateway"]

    assert "REGISTRY=URL" in gateway["description"]
