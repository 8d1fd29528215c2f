from __future__ import annotations

from provision.deliverability.dnsbl import Verdict, ZoneAnswer, interpret, judge_listings
from provision.deliverability.lookup import reversed_labels
from provision.deliverability.result import Status


def test_no_answer_is_clean() -> None:
    assert interpret("zen.spamhaus.org", []).verdict == Verdict.CLEAN


def test_spamhaus_xbl_code_is_a_listing_with_its_meaning() -> None:
    answer = interpret("zen.spamhaus.org", ["127.0.0.4"])
    assert answer.verdict == Verdict.LISTED
    assert "XBL" in answer.detail


def test_spamhaus_refusal_is_not_a_listing() -> None:
    answer = interpret("zen.spamhaus.org", ["127.255.255.254"])
    assert answer.verdict == Verdict.REFUSED
    assert "public" in answer.detail


def test_any_loopback_code_lists_on_other_zones() -> None:
    assert interpret("bl.example.net", ["127.0.0.2"]).verdict == Verdict.LISTED


def test_listing_fails_and_refusal_is_an_error() -> None:
    listed = judge_listings("192.0.2.1", [ZoneAnswer("a.test", Verdict.LISTED, "127.0.0.2")])
    refused = judge_listings("192.0.2.1", [ZoneAnswer("a.test", Verdict.REFUSED, "x")])
    assert listed.status == Status.FAIL
    assert "delisting" in listed.fix
    assert refused.status == Status.ERROR


def test_pbl_listing_suggests_a_relay() -> None:
    answer = interpret("zen.spamhaus.org", ["127.0.0.10"])
    assert "[relay]" in judge_listings("192.0.2.1", [answer]).fix


def test_clean_on_every_zone_passes() -> None:
    answers = [ZoneAnswer("a.test", Verdict.CLEAN, ""), ZoneAnswer("b.test", Verdict.CLEAN, "")]
    assert judge_listings("192.0.2.1", answers).status == Status.PASS


def test_ipv4_is_reversed_by_octet_and_ipv6_by_nibble() -> None:
    assert reversed_labels("192.0.2.1") == "1.2.0.192"
    assert reversed_labels("2001:db8::1").startswith("1.0.0.0.")
    assert reversed_labels("2001:db8::1").endswith(".8.b.d.0.1.0.0.2")
