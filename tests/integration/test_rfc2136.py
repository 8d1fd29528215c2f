from __future__ import annotations

import pytest

from provision.dns.provider import Record
from provision.dns.rfc2136 import Rfc2136Provider
from provision.errors import DnsError
from tests.lab.bind import LabDns
from tests.lab.docker_lab import free_port

LONG = "v=DKIM1; k=rsa; p=" + "A" * 392


def _answers(lab_dns: LabDns, name: str, rtype: str) -> list[str]:
    answer = lab_dns.resolver().resolve(name, rtype, raise_on_no_answer=False)
    if rtype == "TXT":
        return sorted(b"".join(r.strings).decode() for r in answer)
    return sorted(r.to_text() for r in answer)


def test_set_txt_is_answered_by_the_server(lab_dns: LabDns, lab_rfc2136: Rfc2136Provider) -> None:
    lab_rfc2136.set(Record("_acme-challenge.set.mailsh.test", "TXT", ("token-1",)))
    assert _answers(lab_dns, "_acme-challenge.set.mailsh.test", "TXT") == ["token-1"]


def test_read_returns_what_was_set(lab_rfc2136: Rfc2136Provider) -> None:
    lab_rfc2136.set(Record("_acme-challenge.read.mailsh.test", "TXT", ("a", "b")))
    assert lab_rfc2136.read("_acme-challenge.read.mailsh.test", "TXT") == ("a", "b")


def test_set_replaces_every_previous_value(lab_rfc2136: Rfc2136Provider) -> None:
    lab_rfc2136.set(Record("replace.mailsh.test", "TXT", ("old-1", "old-2")))
    lab_rfc2136.set(Record("replace.mailsh.test", "TXT", ("new",)))
    assert lab_rfc2136.read("replace.mailsh.test", "TXT") == ("new",)


def test_long_txt_is_stored_as_several_strings_and_reads_back_whole(
    lab_dns: LabDns, lab_rfc2136: Rfc2136Provider
) -> None:
    lab_rfc2136.set(Record("long._domainkey.mailsh.test", "TXT", (LONG,)))
    answer = lab_dns.resolver().resolve("long._domainkey.mailsh.test", "TXT")
    strings = next(iter(answer)).strings
    assert len(strings) == 2 and all(len(s) <= 255 for s in strings)
    assert lab_rfc2136.read("long._domainkey.mailsh.test", "TXT") == (LONG,)


def test_delete_removes_the_record(lab_rfc2136: Rfc2136Provider) -> None:
    lab_rfc2136.set(Record("_acme-challenge.del.mailsh.test", "TXT", ("gone soon",)))
    lab_rfc2136.delete("_acme-challenge.del.mailsh.test", "TXT")
    assert lab_rfc2136.read("_acme-challenge.del.mailsh.test", "TXT") == ()


def test_deleting_an_absent_record_is_not_an_error(lab_rfc2136: Rfc2136Provider) -> None:
    lab_rfc2136.delete("never-there.mailsh.test", "TXT")


def test_a_and_mx_values_round_trip(lab_rfc2136: Rfc2136Provider) -> None:
    lab_rfc2136.set(Record("host.mailsh.test", "A", ("192.0.2.10",)))
    lab_rfc2136.set(Record("mx.mailsh.test", "MX", ("10 host.mailsh.test.",)))
    assert lab_rfc2136.read("host.mailsh.test", "A") == ("192.0.2.10",)
    assert lab_rfc2136.read("mx.mailsh.test", "MX") == ("10 host.mailsh.test.",)


def test_unknown_tsig_key_is_a_one_line_error(lab_dns: LabDns) -> None:
    provider = Rfc2136Provider(
        lab_dns.host, lab_dns.port, "mailsh.test", "no-such-key", lab_dns.tsig_secret
    )
    with pytest.raises(DnsError, match="does not know TSIG key no-such-key") as e:
        provider.set(Record("badkey.mailsh.test", "TXT", ("x",)))
    assert "\n" not in str(e.value)


def test_wrong_tsig_secret_is_a_one_line_error(lab_dns: LabDns) -> None:
    provider = Rfc2136Provider(
        lab_dns.host, lab_dns.port, "mailsh.test", lab_dns.tsig_name, "d3Jvbmcgc2VjcmV0"
    )
    with pytest.raises(DnsError, match="rejected the TSIG signature"):
        provider.set(Record("badsig.mailsh.test", "TXT", ("x",)))


def test_refused_update_changes_nothing(lab_dns: LabDns, lab_rfc2136: Rfc2136Provider) -> None:
    provider = Rfc2136Provider(
        lab_dns.host, lab_dns.port, "mailsh.test", lab_dns.tsig_name, "d3Jvbmcgc2VjcmV0"
    )
    with pytest.raises(DnsError):
        provider.set(Record("untouched.mailsh.test", "TXT", ("x",)))
    assert lab_rfc2136.read("untouched.mailsh.test", "TXT") == ()


def test_unreachable_server_is_a_one_line_error(lab_dns: LabDns) -> None:
    provider = Rfc2136Provider(
        "127.0.0.1", free_port(), "mailsh.test", lab_dns.tsig_name, lab_dns.tsig_secret, timeout=2
    )
    with pytest.raises(DnsError, match="unreachable"):
        provider.set(Record("x.mailsh.test", "TXT", ("x",)))


def test_name_outside_the_zone_is_refused_before_sending(lab_rfc2136: Rfc2136Provider) -> None:
    with pytest.raises(DnsError, match=r"x\.client\.test is not in zone mailsh\.test"):
        lab_rfc2136.set(Record("x.client.test", "TXT", ("x",)))


def test_zone_the_server_does_not_serve_is_refused(lab_dns: LabDns) -> None:
    provider = lab_dns.provider("elsewhere.test")
    with pytest.raises(DnsError, match="NOTAUTH"):
        provider.set(Record("x.elsewhere.test", "TXT", ("x",)))
