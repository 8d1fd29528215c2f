from __future__ import annotations

import pytest

from provision.deliverability.dmarc_check import (
    DmarcSyntaxError,
    dmarc_records,
    external_report_domains,
    judge_dmarc,
    parse_dmarc,
)
from provision.deliverability.result import Status


def test_record_with_policy_and_rua_parses() -> None:
    record = parse_dmarc("v=DMARC1; p=reject; rua=mailto:dmarc@example.org!10m")
    assert record.policy == "reject"
    assert record.rua == ("dmarc@example.org",)


@pytest.mark.parametrize(
    "text",
    [
        "p=reject; v=DMARC1",
        "v=DMARC1; p=block",
        "v=DMARC1",
        "v=DMARC1; p=none; pct=150",
        "v=DMARC1; p=none; adkim=x",
        "v=DMARC1; p=none; rua=https://example.org",
        "v=DMARC1; p=none; p=reject",
    ],
)
def test_malformed_records_raise(text: str) -> None:
    with pytest.raises(DmarcSyntaxError):
        parse_dmarc(text)


def test_only_v_dmarc1_values_count_as_records() -> None:
    assert dmarc_records(["v=DMARC1; p=none", "v=spf1 -all"]) == ["v=DMARC1; p=none"]


def test_report_domains_of_the_domain_itself_are_not_external() -> None:
    record = parse_dmarc(
        "v=DMARC1; p=none; rua=mailto:a@example.org,mailto:b@reports.example.org,"
        "mailto:c@vendor.net"
    )
    assert external_report_domains("example.org", record) == ["vendor.net"]


def test_missing_record_fails_and_names_the_record_to_publish() -> None:
    outcome, _ = judge_dmarc("example.org", [], {})
    assert outcome.status == Status.FAIL
    assert "_dmarc.example.org TXT" in outcome.fix


def test_two_records_fail() -> None:
    outcome, _ = judge_dmarc("example.org", ["v=DMARC1; p=none", "v=DMARC1; p=reject"], {})
    assert outcome.status == Status.FAIL


def test_policy_none_warns() -> None:
    outcome, _ = judge_dmarc("example.org", ["v=DMARC1; p=none"], {})
    assert outcome.status == Status.WARN
    assert "dmarc_policy" in outcome.fix


def test_quarantine_passes() -> None:
    outcome, _ = judge_dmarc("example.org", ["v=DMARC1; p=quarantine"], {})
    assert outcome.status == Status.PASS


def test_unauthorized_external_report_domain_warns_with_the_record_to_ask_for() -> None:
    records = ["v=DMARC1; p=reject; rua=mailto:r@vendor.net"]
    outcome, _ = judge_dmarc("example.org", records, {"vendor.net": False})
    assert outcome.status == Status.WARN
    assert "example.org._report._dmarc.vendor.net" in outcome.fix
