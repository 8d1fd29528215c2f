from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from provision.config import Settings, parse_settings
from provision.dkim import DkimRecordValue
from provision.dns.duckdns import CAPABILITIES as DUCKDNS
from provision.dns.provider import Capabilities, txt_strings
from provision.dns.records import MailRecord, default_spf, mta_sts_policy
from provision.dns.records import desired_records as records_for
from provision.dns.rfc2136 import CAPABILITIES as RFC2136
from provision.state import DkimKey, StateDir, ensure_dkim_key


def _settings(**data: object) -> Settings:
    return parse_settings({"domain": "example.org", **data}, "test", Path("/"))


@pytest.fixture(scope="module")
def dkim(tmp_path_factory: pytest.TempPathFactory) -> DkimKey:
    return ensure_dkim_key(StateDir(tmp_path_factory.mktemp("state")), "mail", 2048)[0]


def desired_records(
    settings: Settings, dkim: DkimKey, caps: Capabilities = RFC2136
) -> list[MailRecord]:
    return records_for(settings, [DkimRecordValue(dkim.selector, dkim.txt_value)], caps)


def _by_kind(settings: Settings, dkim: DkimKey) -> dict[str, MailRecord]:
    return {m.kind: m for m in desired_records(settings, dkim) if m.record.values}


def _value(settings: Settings, dkim: DkimKey, kind: str) -> tuple[str, str]:
    record = _by_kind(settings, dkim)[kind].record
    return record.name, record.values[0]


def test_spf_default_names_only_the_mx_when_the_domain_has_no_address(dkim: DkimKey) -> None:
    settings = _settings(dns={"ip": "192.0.2.1"})
    assert _value(settings, dkim, "SPF") == ("example.org", "v=spf1 mx -all")


def test_spf_default_adds_a_when_the_hostname_is_the_domain() -> None:
    settings = _settings(hostname="example.org", dns={"ip": "192.0.2.1"})
    assert default_spf(settings, RFC2136) == "v=spf1 a mx -all"


def test_spf_default_without_mx_publishing_names_the_shared_address() -> None:
    settings = _settings(domain="me.duckdns.org", dns={"ip": "192.0.2.1"})
    assert default_spf(settings, DUCKDNS) == "v=spf1 a -all"


def test_retired_dkim_selector_past_its_grace_must_be_absent(dkim: DkimKey) -> None:
    values = [DkimRecordValue("new", dkim.txt_value), DkimRecordValue("old", None)]
    dkims = [m.record for m in records_for(_settings(), values, RFC2136) if m.kind == "DKIM"]
    assert [(r.name, bool(r.values)) for r in dkims] == [
        ("new._domainkey.example.org", True),
        ("old._domainkey.example.org", False),
    ]


def test_spf_is_configurable(dkim: DkimKey) -> None:
    settings = _settings(dns={"spf": "v=spf1 mx include:relay.example.net ~all"})
    assert _value(settings, dkim, "SPF")[1] == "v=spf1 mx include:relay.example.net ~all"


def test_dmarc_default_quarantines_and_reports_to_the_domains_postmaster(dkim: DkimKey) -> None:
    assert _value(_settings(), dkim, "DMARC") == (
        "_dmarc.example.org",
        "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org",
    )


def test_dmarc_policy_and_rua_are_configurable(dkim: DkimKey) -> None:
    settings = _settings(dns={"dmarc_policy": "reject", "dmarc_rua": "reports@example.org"})
    assert _value(settings, dkim, "DMARC")[1] == (
        "v=DMARC1; p=reject; rua=mailto:reports@example.org"
    )


def test_mta_sts_record_carries_an_id_of_the_policy(dkim: DkimKey) -> None:
    policy = b"version: STSv1\r\nmode: testing\r\nmx: mail.example.org\r\nmax_age: 604800\r\n"
    assert mta_sts_policy(_settings()).encode() == policy
    assert _value(_settings(), dkim, "MTA-STS") == (
        "_mta-sts.example.org",
        f"v=STSv1; id={hashlib.sha256(policy).hexdigest()[:20]}",
    )


def test_mta_sts_id_changes_when_the_policy_changes(dkim: DkimKey) -> None:
    testing = _value(_settings(), dkim, "MTA-STS")[1]
    enforce = _value(_settings(mta_sts={"mode": "enforce"}), dkim, "MTA-STS")[1]
    assert testing != enforce
    assert "mode: enforce\r\n" in mta_sts_policy(_settings(mta_sts={"mode": "enforce"}))


def test_tls_rpt_reports_go_to_the_postmaster_by_default(dkim: DkimKey) -> None:
    assert _value(_settings(), dkim, "TLS-RPT") == (
        "_smtp._tls.example.org",
        "v=TLSRPTv1; rua=mailto:postmaster@example.org",
    )


def test_mx_points_at_the_hostname(dkim: DkimKey) -> None:
    settings = _settings(hostname="smtp.example.org")
    assert _value(settings, dkim, "MX") == ("example.org", "10 smtp.example.org.")


def test_a_records_only_when_an_address_is_configured(dkim: DkimKey) -> None:
    assert "A" not in _by_kind(_settings(), dkim)
    records = desired_records(_settings(dns={"ip": "192.0.2.1"}), dkim)
    a = [m.record for m in records if m.kind == "A"]
    assert [(r.name, r.values) for r in a] == [
        ("mail.example.org", ("192.0.2.1",)),
        ("mta-sts.example.org", ("192.0.2.1",)),
    ]


def test_aaaa_must_be_absent_unless_configured(dkim: DkimKey) -> None:
    without = desired_records(_settings(dns={"ip": "192.0.2.1"}), dkim)
    with_v6 = desired_records(_settings(dns={"ip": "192.0.2.1", "ipv6": "2001:db8::1"}), dkim)
    assert {m.record.values for m in without if m.kind == "AAAA"} == {()}
    assert {m.record.values for m in with_v6 if m.kind == "AAAA"} == {("2001:db8::1",)}


def test_dkim_public_key_is_the_public_half_of_the_state_key(dkim: DkimKey) -> None:
    name, value = _value(_settings(), dkim, "DKIM")
    assert name == "mail._domainkey.example.org"
    tags = dict(t.strip().split("=", 1) for t in value.split(";"))
    assert tags["v"] == "DKIM1" and tags["k"] == "rsa"
    published = serialization.load_der_public_key(base64.b64decode(tags["p"]))
    private = serialization.load_pem_private_key(dkim.private_pem, password=None)
    assert isinstance(published, rsa.RSAPublicKey) and isinstance(private, rsa.RSAPrivateKey)
    assert published.public_numbers() == private.public_key().public_numbers()


def test_2048_bit_dkim_value_splits_into_255_byte_strings_that_reassemble(dkim: DkimKey) -> None:
    value = _value(_settings(), dkim, "DKIM")[1]
    strings = txt_strings(value)
    assert len(value) > 255 and len(strings) == 2
    assert all(len(s) <= 255 for s in strings)
    assert b"".join(strings).decode() == value


def test_empty_txt_value_is_one_empty_string() -> None:
    assert txt_strings("") == (b"",)
