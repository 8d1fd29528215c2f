"""ACME DNS-01 against the lab: Pebble validates through the lab BIND (rfc2136 provider)."""

from __future__ import annotations

import time
from pathlib import Path

from cryptography import x509

from provision.certs import ensure_acme_certificate
from provision.config import Settings, parse_settings
from provision.dns.rfc2136 import Rfc2136Provider
from provision.state import StateDir
from tests.lab.bind import LabDns
from tests.lab.pebble import LabPebble

TSIG_ENV = "MAILSH_LAB_TSIG"


def acme_settings(lab_dns: LabDns, lab_pebble: LabPebble, state_dir: Path) -> Settings:
    data = {
        "domain": "mailsh.test",
        "state_dir": str(state_dir),
        "tls": {"mode": "acme"},
        "acme": {
            "directory": lab_pebble.directory,
            "ca_bundle": str(lab_pebble.ca_bundle),
            "email": "admin@mailsh.test",
            "agree_tos": True,
        },
        "dns": lab_dns.dns_config("mailsh.test", TSIG_ENV),
    }
    return parse_settings(data, "test", state_dir)


def test_certificate_is_issued_and_challenge_record_removed(
    lab_dns: LabDns, lab_pebble: LabPebble, lab_rfc2136: Rfc2136Provider, tmp_path: Path
) -> None:
    settings = acme_settings(lab_dns, lab_pebble, tmp_path / "state")
    lines: list[str] = []
    started = time.monotonic()
    result = ensure_acme_certificate(settings, {TSIG_ENV: lab_dns.tsig_secret}, lines.append)
    print(f"issued in {time.monotonic() - started:.2f} s", lines)
    assert result.issued
    chain = StateDir(settings.state_dir).cert_file.read_bytes()
    leaf = x509.load_pem_x509_certificate(chain)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"mail.mailsh.test", "mta-sts.mailsh.test"}
    assert lab_rfc2136.read("_acme-challenge.mail.mailsh.test", "TXT") == ()
