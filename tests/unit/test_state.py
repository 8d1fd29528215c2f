from __future__ import annotations

import base64
import datetime as dt
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from provision.config import Settings, parse_settings
from provision.render import render_configs
from provision.state import StateDir, ensure_dkim_key, ensure_self_signed, write_rendered


def _settings(**data: object) -> Settings:
    return parse_settings(data, "test", Path("/tmp"))


def test_dkim_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    first, created = ensure_dkim_key(state, "mail", 1024)
    again, created_again = ensure_dkim_key(state, "mail", 1024)
    assert created and not created_again
    assert first.public_b64 == again.public_b64


def test_dkim_private_key_is_private_and_in_opendkim_format(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    ensure_dkim_key(state, "mail", 1024)
    path = state.dkim_key_file("mail")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")


def test_dkim_record_holds_the_public_half_of_the_private_key(tmp_path: Path) -> None:
    key, _ = ensure_dkim_key(StateDir(tmp_path), "mail", 2048)
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    der = base64.b64decode(key.txt_value.split("p=", 1)[1])
    assert serialization.load_der_public_key(der).public_numbers() == (
        private.public_key().public_numbers()
    )


def test_self_signed_certificate_covers_the_names_and_is_kept(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    names = ["mail.example.org", "mta-sts.example.org"]
    assert ensure_self_signed(state, names)
    cert = x509.load_pem_x509_certificate(state.cert_file.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == names
    assert stat.S_IMODE(state.key_file.stat().st_mode) == 0o600
    assert not ensure_self_signed(state, names)


def test_self_signed_certificate_is_replaced_for_new_names_or_near_expiry(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    ensure_self_signed(state, ["a.example.org"])
    assert ensure_self_signed(state, ["b.example.org"])
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=820)
    assert ensure_self_signed(state, ["b.example.org"], now=later)


def test_config_hash_changes_only_when_a_rendered_file_changes(tmp_path: Path) -> None:
    first = write_rendered(tmp_path, render_configs(_settings()), {})
    again = write_rendered(tmp_path, render_configs(_settings()), {})
    changed = write_rendered(tmp_path, render_configs(_settings(smtp={"max_message_mb": 2})), {})
    assert first == again
    assert changed != first


def test_stale_rendered_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / "postfix").mkdir()
    (tmp_path / "postfix" / "old.cf").write_text("x")
    write_rendered(tmp_path, render_configs(_settings()), {})
    assert not (tmp_path / "postfix" / "old.cf").exists()
