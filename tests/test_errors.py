from main.errors import (
    DigestMismatchError,
    RegistryError,
    RegistryMirrorError,
    SettingsError,
    UsageError,
)


def test_usage_errors_share_base() -> None:
    assert issubclass(SettingsError, UsageError)
    assert issubclass(UsageError, RegistryMirrorError)


def test_registry_error_carries_url_and_status() -> None:
    error = DigestMismatchError("bad", url="http://127.0.0.1:1/v2/", status=200)

    assert isinstance(error, RegistryError)
    assert error.url == "http://127.0.0.1:1/v2/"
    assert error.status == 200
