"""`invoke trust` lists a key in mailsh.toml: the user's comments and layout stay."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from provision.config import parse_settings
from provision.config_edit import config_with_key
from provision.errors import ConfigError

FPR = "0123456789ABCDEF0123456789ABCDEF01234567"
OTHER = "89ABCDEF0123456789ABCDEF0123456789ABCDEF"


def _trusted(text: str) -> list[str]:
    settings = parse_settings(tomllib.loads(text), "test", Path("/tmp"))
    return [k.fingerprint for k in settings.keys]


def test_trusting_a_key_appends_it_and_keeps_comments() -> None:
    text = '# my server\ndomain = "example.org"\n'
    updated = config_with_key(text, FPR)
    assert updated.startswith(text)
    assert updated.endswith(f'[[keys]]\nfingerprint = "{FPR}"\n')


def test_trusting_a_listed_key_again_changes_nothing() -> None:
    once = config_with_key("", FPR)
    assert config_with_key(once, FPR) == once


def test_a_key_joins_an_inline_keys_list() -> None:
    text = f'domain = "example.org"\nkeys = [{{ fingerprint = "{OTHER}" }}]  # alice\n'
    assert _trusted(config_with_key(text, FPR)) == [OTHER, FPR]


def test_an_inline_keys_list_keeps_its_comments() -> None:
    text = f'keys = [\n  {{ fingerprint = "{OTHER}" }},  # alice\n]\n# the end\n'
    updated = config_with_key(text, FPR)
    assert "# alice\n" in updated and updated.endswith("]\n# the end\n")


def test_an_empty_inline_keys_list_takes_the_key() -> None:
    assert _trusted(config_with_key("keys = []\n", FPR)) == [FPR]


def test_a_key_in_an_inline_list_is_not_listed_again() -> None:
    text = f'keys = [{{ fingerprint = "{FPR}", run_as = "alice" }}]\n'
    assert config_with_key(text, FPR) == text


def test_a_key_listed_in_lower_case_with_spaces_is_not_listed_again() -> None:
    spaced = " ".join(FPR[i : i + 4] for i in range(0, 40, 4)).lower()
    text = f'[[keys]]\nfingerprint = "{spaced}"\n'
    assert config_with_key(text, FPR) == text


def test_a_new_keys_table_follows_the_last_one_and_what_came_after_stays() -> None:
    text = (
        f'domain = "example.org"\n\n[[keys]]\nfingerprint = "{OTHER}"  # bob\n'
        'run_as = "bob"\n\n[client]\nkey = "alice@example.org"  # mine\n'
    )
    updated = config_with_key(text, FPR)
    assert updated == (
        f'domain = "example.org"\n\n[[keys]]\nfingerprint = "{OTHER}"  # bob\n'
        f'run_as = "bob"\n\n[[keys]]\nfingerprint = "{FPR}"\n\n'
        '[client]\nkey = "alice@example.org"  # mine\n'
    )


def test_a_new_keys_table_after_a_last_one_that_ends_the_file_is_set_apart() -> None:
    text = f'[[keys]]\nfingerprint = "{OTHER}"\n'
    assert config_with_key(text, FPR) == f'{text}\n[[keys]]\nfingerprint = "{FPR}"\n'


def test_a_config_after_tables_gets_its_keys_at_the_end() -> None:
    text = '[client]\nkey = "alice@example.org"\n'
    assert _trusted(config_with_key(text, FPR)) == [FPR]


def test_a_config_that_is_not_toml_is_refused_with_its_name() -> None:
    with pytest.raises(ConfigError, match=r"^servers/a\.toml: not valid TOML"):
        config_with_key("domain = \n", FPR, "servers/a.toml")


def test_keys_that_are_not_a_list_are_refused() -> None:
    with pytest.raises(ConfigError, match="keys must be a list"):
        config_with_key('keys = "alice"\n', FPR)
