from __future__ import annotations

from provision.deliverability.dns_records import fcrdns_outcome, mx_outcome
from provision.deliverability.result import Status
from provision.deliverability.smtp_checks import banner_outcome, relay_outcome

HOST = "mail.example.org"


def test_mx_naming_the_host_passes() -> None:
    assert mx_outcome("example.org", HOST, [(10, HOST)], []).status == Status.PASS


def test_mx_naming_another_host_fails_with_the_record() -> None:
    outcome = mx_outcome("example.org", HOST, [(10, "mx.other.net")], [])
    assert outcome.status == Status.FAIL
    assert f"MX 10 {HOST}" in outcome.fix


def test_no_mx_with_an_address_at_the_domain_warns_of_the_implicit_mx() -> None:
    outcome = mx_outcome("example.org", HOST, [], ["192.0.2.1"])
    assert outcome.status == Status.WARN
    assert "192.0.2.1" in outcome.observed


def test_no_mx_and_no_address_at_the_domain_fails() -> None:
    assert mx_outcome("example.org", HOST, [], []).status == Status.FAIL


def test_forward_confirmed_ptr_to_the_hostname_passes() -> None:
    assert fcrdns_outcome("192.0.2.1", HOST, [HOST], {HOST: True}).status == Status.PASS


def test_missing_ptr_fails_and_points_to_the_ip_owner() -> None:
    outcome = fcrdns_outcome("192.0.2.1", HOST, [], {})
    assert outcome.status == Status.FAIL
    assert "owner of 192.0.2.1" in outcome.fix


def test_ptr_that_does_not_resolve_back_fails() -> None:
    assert fcrdns_outcome("192.0.2.1", HOST, [HOST], {HOST: False}).status == Status.FAIL


def test_forward_confirmed_ptr_to_another_name_warns() -> None:
    other = "host-1.isp.example"
    assert fcrdns_outcome("192.0.2.1", HOST, [other], {other: True}).status == Status.WARN


def test_banner_starting_with_the_hostname_passes() -> None:
    assert banner_outcome(HOST, f"{HOST} ESMTP mailsh").status == Status.PASS


def test_banner_with_another_name_fails() -> None:
    outcome = banner_outcome(HOST, "localhost ESMTP Postfix")
    assert outcome.status == Status.FAIL
    assert "hostname" in outcome.fix


def test_permanent_refusal_to_relay_passes() -> None:
    assert relay_outcome(554, "5.7.1 Relay access denied").status == Status.PASS


def test_accepted_outside_recipient_is_an_open_relay() -> None:
    outcome = relay_outcome(250, "2.1.5 Ok")
    assert outcome.status == Status.FAIL
    assert "open relay" in outcome.observed
