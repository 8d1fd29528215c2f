"""ACME through the lab's DuckDNS API: one TXT for the name and all below it, so the
challenges go one at a time and the value that was there before is put back."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography import x509

from provision.acme import Progress
from provision.acme_failures import AcmeError
from provision.certs import CertResult, authoritative_waiter, ensure_acme_certificate
from provision.config import Settings, parse_settings
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
    settings: Settings


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
    return DuckDnsIssuance(result, lines, StateDir(settings.state_dir), provider, settings)


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
    # Each challenge is accepted before the next one is published (in the CA's order).
    solved = [
        (steps[i].split()[2].removeprefix("_acme-challenge."), steps[i + 1])
        for i in range(0, len(steps), 2)
    ]
    assert sorted(solved) == [
        (f"mail.{DOMAIN}", f"mail.{DOMAIN}: challenge accepted"),
        (f"mta-sts.{DOMAIN}", f"mta-sts.{DOMAIN}: challenge accepted"),
    ]
    assert len(steps) == 4


def test_txt_value_is_restored_when_the_challenge_is_refused(
    duckdns_issuance: DuckDnsIssuance, lab_duckdns: LabDuckDns, lab_pebble: LabPebble
) -> None:
    settings = duckdns_issuance.settings
    provider = duckdns_issuance.provider
    real_wait = authoritative_waiter(settings)

    def wait_then_tamper(name: str, value: str, progress: Progress) -> None:
        real_wait(name, value, progress)
        provider.set(Record(DOMAIN, "TXT", ("not-the-key-authorization",)))

    before = duckdns_issuance.state.cert_file.read_bytes()
    with pytest.raises(AcmeError, match="challenge refused"):
        ensure_acme_certificate(
            settings,
            {TOKEN_ENV: lab_duckdns.token},
            lambda _m: None,
            force=True,
            wait_published=wait_then_tamper,
        )
    assert provider.read(DOMAIN, "TXT") == (BEFORE,)
    assert duckdns_issuance.state.cert_file.read_bytes() == before
