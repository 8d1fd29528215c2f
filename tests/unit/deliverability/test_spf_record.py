from __future__ import annotations

import pytest

from provision.deliverability.spf_record import (
    SpfSyntaxError,
    all_qualifier,
    lookup_terms,
    parse_spf,
    redirect_target,
    spf_records,
)


def test_only_v_spf1_values_are_spf_records() -> None:
    values = ["v=spf1 a -all", "google-site-verification=x", "v=spf10 a", "V=SPF1"]
    assert spf_records(values) == ["v=spf1 a -all", "V=SPF1"]


def test_default_record_parses_into_its_terms() -> None:
    terms = parse_spf("v=spf1 a mx -all")
    assert [(t.qualifier, t.name) for t in terms] == [("+", "a"), ("+", "mx"), ("-", "all")]


def test_a_and_mx_keep_domain_and_prefix_apart() -> None:
    a, mx = parse_spf("v=spf1 a:mail.example.org/24 mx/28 -all")[:2]
    assert (a.value, a.cidr) == ("mail.example.org", "/24")
    assert (mx.value, mx.cidr) == ("", "/28")


def test_lookup_terms_count_include_a_mx_ptr_exists() -> None:
    terms = parse_spf("v=spf1 ip4:192.0.2.1 include:_spf.example.org a mx ptr exists:x.org -all")
    assert lookup_terms(terms) == 5


def test_redirect_counts_only_without_all() -> None:
    assert lookup_terms(parse_spf("v=spf1 redirect=_spf.example.org")) == 1
    assert lookup_terms(parse_spf("v=spf1 -all redirect=_spf.example.org")) == 0


def test_all_qualifier_is_read_from_the_all_mechanism() -> None:
    assert all_qualifier(parse_spf("v=spf1 mx ~all")) == "~"
    assert all_qualifier(parse_spf("v=spf1 mx")) is None


def test_redirect_target_applies_when_there_is_no_all() -> None:
    assert redirect_target(parse_spf("v=spf1 redirect=spf.example.org")) == "spf.example.org"


@pytest.mark.parametrize(
    "record",
    [
        "v=spf1 a mx -all foo",
        "v=spf1 ip4:300.1.1.1 -all",
        "v=spf1 ip4:2001:db8::1 -all",
        "v=spf1 include: -all",
        "v=spf1 all:example.org",
        "v=spf1 redirect=a.org redirect=b.org",
        "v=spf1 a/99 -all",
    ],
)
def test_malformed_records_raise_a_syntax_error(record: str) -> None:
    with pytest.raises(SpfSyntaxError):
        parse_spf(record)


def test_unknown_modifiers_are_allowed() -> None:
    assert parse_spf("v=spf1 a -all foo=bar")[-1].name == "foo"
