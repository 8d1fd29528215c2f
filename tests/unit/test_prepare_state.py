from __future__ import annotations

import stat
from pathlib import Path

import pytest

from provision.config import parse_settings
from provision.deploy import prepare_state
from provision.errors import ConfigError

RELAY = {"host": "smtp.example.net", "username": "me", "password_env": "RELAY_PW"}


def test_relay_password_is_kept_private_and_out_of_rendered_configs(tmp_path: Path) -> None:
    settings = parse_settings({"state_dir": "st", "relay": RELAY}, "test", tmp_path)
    state, *_ = prepare_state(settings, lambda _m: None, {"RELAY_PW": "s3cret-value"})
    secret_file = state.relay_password_file
    assert secret_file.read_text() == "[smtp.example.net]:587 me:s3cret-value\n"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    rendered = [p.read_text() for p in state.rendered.rglob("*") if p.is_file()]
    assert rendered
    assert not any("s3cret-value" in text for text in rendered)


def test_missing_relay_password_variable_is_a_config_error(tmp_path: Path) -> None:
    settings = parse_settings({"state_dir": "st", "relay": RELAY}, "test", tmp_path)
    with pytest.raises(ConfigError, match="RELAY_PW is not set"):
        prepare_state(settings, lambda _m: None, {})


def test_changing_the_relay_password_changes_the_config_hash(tmp_path: Path) -> None:
    settings = parse_settings({"state_dir": "st", "relay": RELAY}, "test", tmp_path)
    *_, first = prepare_state(settings, lambda _m: None, {"RELAY_PW": "one"})
    *_, second = prepare_state(settings, lambda _m: None, {"RELAY_PW": "two"})
    assert first != second
