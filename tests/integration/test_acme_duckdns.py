"""ACME through the lab's DuckDNS API: one TXT for the name and all below it, so the
challenges go one at a time and the value that was there before is put back."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography import x509

from provision.certs import CertResult, ensure_acme_certificate
from provision.config import parse_settings
from provision.dns.duckdns import DuckDnsProvider
from provision.dns.provider import Record
from provision.state import StateDir
from tests.lab.duckdns import LabDuckDns
from tests.lab.pebble import LabPebble

DOMAIN = "acme.duckdns.test"
TOKEN_ENV = "MAILSH_LAB_DUCKDNS_TOKEN"
BEFORE = "v=DKIM1; k=rsa; p=published-before-the-challenge"


@dataclass
class DuckDnsIssuance:
    result: CertResult
    progress: list[str]
    state: StateDir
    provider: DuckDnsProvider


@pytest.fixture(scope="module")
def duckdns_issuance(
    lab_duckdns: LabDuckDns, lab_pebble: LabPebble, tmp_path_factory: pytest.TempPathFactory
) -> DuckDnsIssuance:
    directory = tmp_path_factory.mktemp("acme-duckdns")
    data = {
        "domain": DOMAIN,
        "state_dir": str(directory / "state"),
        "tls": {"mode": "acme"},
        "acme": {
            "directory": lab_pebble.directory,
            "ca_bundle": str(lab_pebble.ca_bundle),
            "agree_tos": True,
        },
        "dns": lab_duckdns.dns_config(token_env=TOKEN_ENV),
    }
    settings = parse_settings(data, "test", directory)
    environ = {TOKEN_ENV: lab_duckdns.token}
    provider = DuckDnsProvider.from_settings(
        settings.dns.duckdns, DOMAIN, environ, [(lab_duckdns.dns.host, lab_duckdns.dns.port)]
    )
    provider.set(Record(DOMAIN, "TXT", (BEFORE,)))
    lines: list[str] = []
    result = ensure_acme_certificate(settings, environ, lines.append)
    return DuckDnsIssuance(result, lines, StateDir(settings.state_dir), provider)


def test_certificate_is_issued_through_duckdns(duckdns_issuance: DuckDnsIssuance) -> None:
    assert duckdns_issuance.result.issued
    leaf = x509.load_pem_x509_certificate(duckdns_issuance.state.cert_file.read_bytes())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {f"mail.{DOMAIN}", f"mta-sts.{DOMAIN}"}


def test_txt_value_from_before_the_challenge_is_restored(
    duckdns_issuance: DuckDnsIssuance,
) -> None:
    assert duckdns_issuance.provider.read(DOMAIN, "TXT") == (BEFORE,)


def test_challenges_are_solved_one_at_a_time(duckdns_issuance: DuckDnsIssuance) -> None:
    steps = [
        line
        for line in duckdns_issuance.progress
        if line.startswith("publishing") or line.endswith("challenge accepted")
    ]
    assert steps == [
        f"publishing TXT _acme-challenge.mail.{DOMAIN} through duckdns",
        f"mail.{DOMAIN}: challenge accepted",
        f"publishing TXT _acme-challenge.mta-sts.{DOMAIN} through duckdns",
        f"mta-sts.{DOMAIN}: challenge accepted",
    ]
