"""ACME DNS-01 against the lab without a container: Pebble validates through the lab BIND."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cryptography import x509

from provision.acme_failures import AcmeError
from provision.certs import ensure_acme_certificate
from provision.config import parse_settings
from provision.dns.rfc2136 import Rfc2136Provider
from provision.state import StateDir
from tests.fixtures.acme import acme_config
from tests.lab.bind import LabDns
from tests.lab.pebble import LabPebble


def test_certificate_is_issued_for_hostname_and_mta_sts_host(
    lab_dns: LabDns,
    lab_pebble: LabPebble,
    lab_rfc2136: Rfc2136Provider,
    acme_env: dict[str, str],
    tmp_path: Path,
) -> None:
    data = {**acme_config(lab_dns, lab_pebble), "state_dir": str(tmp_path / "state")}
    settings = parse_settings(data, "test", tmp_path)
    lines: list[str] = []
    started = time.monotonic()
    result = ensure_acme_certificate(settings, acme_env, lines.append)
    print(f"issued in {time.monotonic() - started:.2f} s", lines)
    assert result.issued
    leaf = x509.load_pem_x509_certificate(StateDir(settings.state_dir).cert_file.read_bytes())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"mail.mailsh.test", "mta-sts.mailsh.test"}
    assert lab_rfc2136.read("_acme-challenge.mail.mailsh.test", "TXT") == ()


def test_terms_of_service_must_be_agreed_in_the_config(
    lab_dns: LabDns, lab_pebble: LabPebble, acme_env: dict[str, str], tmp_path: Path
) -> None:
    data = acme_config(lab_dns, lab_pebble)
    data["acme"] = {**data["acme"], "agree_tos": False}
    settings = parse_settings({**data, "state_dir": str(tmp_path / "state")}, "test", tmp_path)
    with pytest.raises(AcmeError, match="terms of service") as info:
        ensure_acme_certificate(settings, acme_env, lambda _m: None)
    assert info.value.hint == "read them and set [acme] agree_tos = true"
    assert not StateDir(settings.state_dir).cert_file.exists()
