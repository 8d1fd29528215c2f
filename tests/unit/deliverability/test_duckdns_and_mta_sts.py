from __future__ import annotations

import pytest

from provision.deliverability.checkdmarc_parse import (
    RecordError,
    mx_matches,
    parse_sts_policy,
)
from provision.deliverability.duckdns_check import duckdns_outcome, kind_of
from provision.deliverability.mta_sts_check import judge_mta_sts, judge_tlsrpt, record_id
from provision.deliverability.result import Status
from provision.dns.records import mta_sts_id

DKIM = "v=DKIM1; k=rsa; p=MIIB"
POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\nmax_age: 604800\r\n"


def test_one_value_everywhere_is_the_single_txt_situation_naming_the_missing_records() -> None:
    observed = {k: [DKIM] for k in ("spf", "dkim", "dmarc", "mta-sts", "tls-rpt")}
    outcome = duckdns_outcome(observed, [DKIM])
    assert outcome.status == Status.WARN
    assert "DKIM published" in outcome.observed
    assert "SPF, DMARC, MTA-STS, TLS-RPT are missing" in outcome.observed
    assert "[dns.duckdns] txt" in outcome.fix


def test_separate_records_pass() -> None:
    observed = {"spf": ["v=spf1 a -all"], "dkim": [DKIM], "dmarc": ["v=DMARC1; p=none"]}
    assert duckdns_outcome(observed, []).status == Status.PASS


def test_txt_values_are_recognised_by_their_version_tag() -> None:
    assert [kind_of(v) for v in ("v=spf1 -all", DKIM, "v=DMARC1; p=none", "hello")] == [
        "spf",
        "dkim",
        "dmarc",
        "other",
    ]


def test_policy_file_parses() -> None:
    policy = parse_sts_policy(POLICY)
    assert (policy.mode, policy.mx, policy.max_age) == ("enforce", ("mail.example.org",), 604800)


@pytest.mark.parametrize(
    "text",
    [
        "mode: enforce\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: forever\n",
        "<html>not found</html>",
    ],
)
def test_malformed_policies_raise(text: str) -> None:
    with pytest.raises(RecordError):
        parse_sts_policy(text)


def test_wildcard_mx_pattern_covers_one_label() -> None:
    assert mx_matches("*.example.org", "mx1.example.org")
    assert not mx_matches("*.example.org", "a.b.example.org")
    assert not mx_matches("*.example.org", "example.org")


def test_policy_naming_every_mx_in_enforce_mode_with_matching_id_passes() -> None:
    outcome = judge_mta_sts(mta_sts_id(POLICY), POLICY, ["mail.example.org"])
    assert outcome.status == Status.PASS


def test_mx_missing_from_the_policy_fails() -> None:
    outcome = judge_mta_sts(mta_sts_id(POLICY), POLICY, ["mx2.example.org"])
    assert outcome.status == Status.FAIL
    assert "[mta_sts] mx" in outcome.fix


def test_testing_mode_warns() -> None:
    text = POLICY.replace("enforce", "testing")
    outcome = judge_mta_sts(mta_sts_id(text), text, ["mail.example.org"])
    assert outcome.status == Status.WARN
    assert 'mode = "enforce"' in outcome.fix


def test_stale_record_id_warns() -> None:
    outcome = judge_mta_sts("oldid1", POLICY, ["mail.example.org"])
    assert outcome.status == Status.WARN
    assert "dns-update" in outcome.fix


def test_record_id_must_be_alphanumeric_and_unique() -> None:
    assert record_id(["v=STSv1; id=20240101T0000"]) == "20240101T0000"
    with pytest.raises(RecordError):
        record_id(["v=STSv1; id=2024-01-01"])
    with pytest.raises(RecordError):
        record_id(["v=STSv1; id=a", "v=STSv1; id=b"])


def test_tlsrpt_with_a_mailto_passes_and_without_rua_fails() -> None:
    assert judge_tlsrpt("example.org", ["v=TLSRPTv1; rua=mailto:t@example.org"]).status == (
        Status.PASS
    )
    assert judge_tlsrpt("example.org", ["v=TLSRPTv1"]).status == Status.FAIL
    assert judge_tlsrpt("example.org", []).status == Status.FAIL
