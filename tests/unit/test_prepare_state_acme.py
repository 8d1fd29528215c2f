from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from provision import deploy
from provision.certs import CertResult
from provision.config import parse_settings
from provision.errors import MailshError
from provision.render import site_names
from provision.state import StateDir, install_certificate
from tests.unit.test_certs import NOW, certificate

ACME = {
    "state_dir": "st",
    "domain": "example.org",
    "tls": {"mode": "acme"},
    "dns": {"provider": "rfc2136", "rfc2136": {"server": "127.0.0.1", "key_name": "k"}},
}


def _failing_renewal(*_args: object, **_kwargs: object) -> CertResult:
    raise MailshError("acme: cannot reach the ACME server")


def test_failed_renewal_keeps_a_still_valid_certificate_and_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = parse_settings(ACME, "test", tmp_path)
    state = StateDir(settings.state_dir)
    state.ensure()
    now = dt.datetime.now(dt.UTC)
    days = (now - NOW).days  # the helper dates certificates from its NOW
    pem = certificate(site_names(settings), days_left=days + 10)
    install_certificate(state, pem, b"key")
    monkeypatch.setattr(deploy, "ensure_acme_certificate", _failing_renewal)
    said: list[str] = []

    deploy.prepare_state(settings, said.append, {})

    assert state.cert_file.read_bytes() == pem
    assert any("renewal failed" in line and "cannot reach" in line for line in said)


def test_failed_issuance_without_a_usable_certificate_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = parse_settings(ACME, "test", tmp_path)
    monkeypatch.setattr(deploy, "ensure_acme_certificate", _failing_renewal)
    with pytest.raises(MailshError, match="cannot reach"):
        deploy.prepare_state(settings, lambda _m: None, {})
