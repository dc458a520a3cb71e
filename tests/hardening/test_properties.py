"""Property-based checks of the parsers that take user input and stored state.

Each parser either returns a value or raises the project's own error with a
one-line message; none may raise anything else. Parsers of values that can
carry a login must never quote its password. The reference, manifest and
settings-value properties live beside their modules' tests; these cover the
remaining front doors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from main.cli.assignments import parse_assignments
from main.deploy.kubeconfig import check_kubeconfig
from main.errors import RegistryMirrorError, SettingsError, UsageError
from main.oci.platform import parse_platform
from main.reference import normalize_base_url, parse_reference
from main.render.distribution import normalize_remote_url
from main.settings import parse_settings
from main.settings.values import check_url
from main.stack.cleanup import OwnerRecord
from main.stack.storage_repair import SCHEDULER_STATE, repair_proxy_storage

SECRET = "Zq9-secret-Wx"
# Text that may stand before or around a login, including URL delimiters.
URL_TEXT = st.text(alphabet=st.characters(codec="ascii"), max_size=30)
# A user name as people write one: no URL delimiters.
USER_TEXT = st.text(
    alphabet=st.characters(codec="ascii", exclude_characters="/?#@\x00"), max_size=12
)
PASSWORDS = st.text(
    alphabet=st.characters(codec="ascii", exclude_characters="\x00"), max_size=12
).map(lambda extra: f"{SECRET}{extra}")
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
KUBECONFIG_KEYS = st.sampled_from(
    ["kind", "current-context", "contexts", "clusters", "users", "name", "context"]
)


def one_line_error(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message
    assert message != ""
    return message


@given(text=st.text(max_size=200))
def test_kubeconfig_text_checked_cleanly(text: str) -> None:
    try:
        check_kubeconfig(text, "kubeconfig")
    except UsageError as exc:
        one_line_error(exc)


@given(
    document=st.dictionaries(KUBECONFIG_KEYS, JSON_VALUES, max_size=5),
    token=st.just(SECRET),
)
def test_kubeconfig_document_never_shows_token(
    document: dict[str, object], token: str
) -> None:
    document["users"] = [{"name": "admin", "user": {"token": token}}]
    text = yaml.safe_dump(document)

    message = ""
    try:
        check_kubeconfig(text, "kubeconfig")
    except UsageError as exc:
        message = one_line_error(exc)

    assert SECRET not in message


@given(text=st.text(max_size=40))
def test_platform_parses_or_fails_cleanly(text: str) -> None:
    try:
        parse_platform(text)
    except UsageError as exc:
        one_line_error(exc)


@given(items=st.lists(st.text(max_size=30), max_size=5))
def test_assignments_parse_or_fail_cleanly(items: list[str]) -> None:
    try:
        parse_assignments(items)
    except UsageError as exc:
        one_line_error(exc)


@given(
    key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz._-", max_size=30),
    value=st.text(max_size=30),
)
def test_any_override_key_validates_or_fails_cleanly(key: str, value: str) -> None:
    try:
        parse_settings({}, {key: value})
    except SettingsError as exc:
        one_line_error(exc)


@given(prefix=USER_TEXT, password=PASSWORDS, rest=URL_TEXT)
def test_remote_url_login_never_shown(prefix: str, password: str, rest: str) -> None:
    url = f"https://{prefix}:{password}@{rest}"

    with pytest.raises(SettingsError) as raised:
        normalize_remote_url(url)

    assert SECRET not in one_line_error(raised.value)


@given(prefix=USER_TEXT, password=PASSWORDS, rest=URL_TEXT)
def test_base_url_login_never_shown(prefix: str, password: str, rest: str) -> None:
    url = f"http://{prefix}:{password}@{rest}"

    with pytest.raises(UsageError) as raised:
        normalize_base_url(url)

    assert SECRET not in one_line_error(raised.value)


@given(prefix=USER_TEXT, password=PASSWORDS, rest=URL_TEXT)
def test_settings_url_login_never_shown(prefix: str, password: str, rest: str) -> None:
    url = f"https://{prefix}:{password}@{rest}"

    with pytest.raises(SettingsError) as raised:
        check_url("upstreams.docker.io.url", url, "https://registry-1.docker.io")

    assert SECRET not in one_line_error(raised.value)


@given(user=USER_TEXT, password=PASSWORDS, rest=URL_TEXT)
def test_reference_login_never_shown(user: str, password: str, rest: str) -> None:
    text = f"{user}:{password}@registry.example/{rest}"

    with pytest.raises(RegistryMirrorError) as raised:
        parse_reference(text)

    assert SECRET not in one_line_error(raised.value)


@given(text=st.text(max_size=200))
def test_owner_marker_parses_or_is_ignored(text: str) -> None:
    record = OwnerRecord.from_json(text)

    assert record is None or record.pid > 0


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(content=st.binary(max_size=200) | JSON_VALUES.map(json.dumps).map(str.encode))
def test_repaired_state_is_readable(tmp_path: Path, content: bytes) -> None:
    storage = tmp_path / "storage"
    storage.mkdir(exist_ok=True)
    state = storage / SCHEDULER_STATE
    state.write_bytes(content)

    repair_proxy_storage(storage)

    if state.exists():
        assert isinstance(json.loads(state.read_bytes()), dict)
    for moved in storage.glob(f"{SCHEDULER_STATE}.unreadable-*"):
        moved.unlink()
