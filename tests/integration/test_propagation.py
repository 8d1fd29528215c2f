from __future__ import annotations

import pytest

from provision.dns.propagation import authoritative_servers, wait_for_records, wait_for_txt
from provision.dns.provider import Record
from provision.dns.rfc2136 import Rfc2136Provider
from provision.errors import DnsError
from tests.lab.bind import LabDns


def test_wait_for_txt_returns_once_the_server_answers(
    lab_dns: LabDns, lab_rfc2136: Rfc2136Provider
) -> None:
    servers = authoritative_servers("x.mailsh.test", [f"{lab_dns.host}:{lab_dns.port}"])
    lab_rfc2136.set(Record("_acme-challenge.wait.mailsh.test", "TXT", ("v1", "v2")))
    took = wait_for_txt("_acme-challenge.wait.mailsh.test", ["v2"], servers, 5, print)
    assert took < 5


def test_wait_for_a_value_never_published_times_out_with_what_it_saw(lab_dns: LabDns) -> None:
    servers = [(lab_dns.host, lab_dns.port)]
    record = Record("never.mailsh.test", "TXT", ("expected",))
    seen: list[str] = []
    with pytest.raises(DnsError, match=r"after 1 s, .* still answers \[\] for never.mailsh.test"):
        wait_for_records([record], servers, 1, seen.append, interval=0.2)


def test_wait_for_absence_passes_when_the_record_is_gone(lab_dns: LabDns) -> None:
    servers = [(lab_dns.host, lab_dns.port)]
    assert wait_for_records([Record("gone.mailsh.test", "TXT", ())], servers, 2, print) < 2


def test_nameservers_are_found_through_the_zone_ns_records(lab_dns: LabDns) -> None:
    servers = authoritative_servers("mail.mailsh.test", resolver=lab_dns.resolver())
    assert servers == [(lab_dns.ip, 53)]


def test_configured_nameservers_override_the_lookup(lab_dns: LabDns) -> None:
    assert authoritative_servers("mail.mailsh.test", ["127.0.0.1:5399"]) == [("127.0.0.1", 5399)]
