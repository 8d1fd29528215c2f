from __future__ import annotations

import pytest

from provision.deliverability.checkdmarc_parse import DmarcPolicy, RecordError, parse_dmarc
from provision.deliverability.dmarc_check import dmarc_records, judge_dmarc, warning_fix
from provision.deliverability.lookup import make_resolver
from provision.deliverability.result import Status

# Records without rua= need no lookup; this resolver would not answer anyway.
OFFLINE = make_resolver(["127.0.0.1:9"], 0.1)


def _judge(record: str) -> tuple[Status, str]:
    try:
        parsed: DmarcPolicy | RecordError = parse_dmarc(record, "example.org", OFFLINE)
    except RecordError as e:
        parsed = e
    outcome = judge_dmarc("example.org", [record], parsed)
    return outcome.status, outcome.fix


@pytest.mark.parametrize(
    "text", ["p=reject; v=DMARC1", "v=DMARC1; p=block", "v=DMARC1; p=none; p=reject"]
)
def test_malformed_records_fail(text: str) -> None:
    assert _judge(text)[0] == Status.FAIL


def test_only_v_dmarc1_values_count_as_records() -> None:
    assert dmarc_records(["v=DMARC1; p=none", "v=spf1 -all"]) == ["v=DMARC1; p=none"]


def test_missing_record_fails_and_names_the_record_to_publish() -> None:
    outcome = judge_dmarc("example.org", [], None)
    assert outcome.status == Status.FAIL
    assert "_dmarc.example.org TXT" in outcome.fix


def test_two_records_fail() -> None:
    outcome = judge_dmarc("example.org", ["v=DMARC1; p=none", "v=DMARC1; p=reject"], None)
    assert outcome.status == Status.FAIL


def test_policy_none_warns_and_names_the_setting() -> None:
    status, fix = _judge("v=DMARC1; p=none")
    assert status == Status.WARN
    assert "dmarc_policy" in fix


def test_no_aggregate_reports_warns_and_names_the_setting() -> None:
    status, fix = _judge("v=DMARC1; p=quarantine")
    assert status == Status.WARN
    assert "dmarc_rua" in fix


def test_unauthorized_external_report_domain_fix_names_the_record_to_ask_for() -> None:
    warning = (
        "vendor.net does not indicate that it accepts DMARC reports about example.org - "
        'Authorization record not found: example.org._report._dmarc.vendor.net IN TXT "v=DMARC1"'
    )
    assert "example.org._report._dmarc.vendor.net TXT" in warning_fix(warning, "example.org")
