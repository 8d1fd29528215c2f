"""The ACME client's pure parts: account key, challenge batches, error sentences."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from acme import messages

from mailsh_acme.failures import acme_failures
from provision.acme import Challenge, challenge_batches, load_account_key
from provision.acme_failures import AcmeError, as_acme_errors
from provision.config import parse_settings
from provision.errors import ConfigError


def test_account_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "acme" / "account-key.pem"
    first = load_account_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_account_key(path).thumbprint() == first.thumbprint()


def test_unreadable_account_key_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "account-key.pem"
    path.write_text("not a key")
    with pytest.raises(AcmeError, match="not a readable private key"):
        load_account_key(path)


def _challenges(*names: str) -> list[Challenge]:
    return [Challenge(n, f"_acme-challenge.{n}", "v", None, None) for n in names]  # type: ignore[arg-type]


def test_challenges_are_solved_together_by_default() -> None:
    items = _challenges("a.example", "b.example")
    assert challenge_batches(items, one_at_a_time=False) == [items]


def test_challenges_are_solved_one_by_one_for_a_single_txt_provider() -> None:
    items = _challenges("a.example", "b.example")
    assert challenge_batches(items, one_at_a_time=True) == [[items[0]], [items[1]]]


def test_refused_connection_becomes_one_sentence() -> None:
    cause = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /dir "
        "(Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object>: "
        "Failed to establish a new connection: [Errno 111] Connection refused'))"
    )
    with (
        pytest.raises(AcmeError) as info,
        as_acme_errors(),
        acme_failures("ACME directory", "https://ca/dir"),
    ):
        raise cause
    assert info.value.message == (
        "ACME directory: cannot reach the ACME server https://ca/dir (connection refused)"
    )


def test_acme_problem_document_is_quoted() -> None:
    problem = messages.Error.with_code("rejectedIdentifier", detail="name is forbidden")
    with (
        pytest.raises(AcmeError, match="refused: name is forbidden"),
        as_acme_errors(),
        acme_failures("x", "u"),
    ):
        raise problem


def test_directory_shortcut_names_lets_encrypt() -> None:
    settings = parse_settings({"acme": {"directory": "letsencrypt-staging"}}, "t", Path("/"))
    assert settings.acme.directory_url.startswith("https://acme-staging-v02.api.letsencrypt")


def test_unknown_directory_name_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"acme\.directory: 'letsencrypt-prod' is neither"):
        parse_settings({"acme": {"directory": "letsencrypt-prod"}}, "t", Path("/"))
