"""Load, override and validate the declarative settings file.

The settings file (`registry-mirror.toml` at the repository root) is TOML, and
every key has a default, so an empty file is valid. Overrides map dotted keys
to values, such as `{"storage.size": "100Gi"}`, so that the command line and
the Dagger functions can change single values. Registry names contain dots,
so upstream keys are written `upstreams.<registry>.<field>`, for example
`upstreams.docker.io.url`. The key `upstreams` alone takes a comma-separated
list of registries and keeps only those. An override of None or "" removes
the key, which restores its default.

An invalid value raises `SettingsError` with one line that names the key and
shows the bad value and a corrected one. Logins are never values in this
file, only references to a Kubernetes Secret.
"""

from main.settings.model import (
    DEFAULT_REGISTRIES,
    ENGINE_REPOSITORY,
    ENGINE_VERSION,
    GATEWAY_IMAGE_PLACEHOLDER,
    KNOWN_REGISTRIES,
    REGISTRY_IMAGE,
    Credentials,
    Engine,
    Gateway,
    LocalVolume,
    Mirror,
    Namespaces,
    Resources,
    Settings,
    Storage,
    Upstream,
)
from main.settings.parse import load_settings, parse_settings

__all__ = [
    "DEFAULT_REGISTRIES",
    "DEFAULT_SETTINGS_FILE",
    "ENGINE_REPOSITORY",
    "ENGINE_VERSION",
    "GATEWAY_IMAGE_PLACEHOLDER",
    "KNOWN_REGISTRIES",
    "REGISTRY_IMAGE",
    "Credentials",
    "Engine",
    "Gateway",
    "LocalVolume",
    "Mirror",
    "Namespaces",
    "Resources",
    "Settings",
    "Storage",
    "Upstream",
    "load_settings",
    "parse_settings",
]

DEFAULT_SETTINGS_FILE = "registry-mirror.toml"
