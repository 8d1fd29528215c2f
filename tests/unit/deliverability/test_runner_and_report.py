from __future__ import annotations

import io
import threading

import dns.resolver
import jsonschema
import pytest
from rich.console import Console

from provision.deliverability.catalog import CHECKS
from provision.deliverability.report import load_schema, render_table, report_json
from provision.deliverability.result import CheckResult, Outcome, Status, exit_code
from provision.deliverability.runner import Check, run_checks, select_checks
from provision.deliverability.target import Endpoint, Target
from provision.errors import MailshError


def _target() -> Target:
    return Target(
        domain="example.org",
        hostname="mail.example.org",
        ip="192.0.2.1",
        ipv6=None,
        selector="mail",
        dkim_public_b64=None,
        smtp=Endpoint("127.0.0.1", 25),
        https=Endpoint("127.0.0.1", 443),
        ca_bundle=None,
        dnsbl_zones=(),
        outbound_probe=Endpoint("127.0.0.1", 25),
        relay=None,
        mta_sts_served=True,
        timeout_s=0.5,
        cert_warn_days=14,
        resolver=dns.resolver.Resolver(configure=False),
    )


def _check(name: str, outcome: Outcome, area: str = "x") -> Check:
    return Check(name, area, lambda _t: outcome, name)


OK = Outcome(Status.PASS, "fine", "fine")
BAD = Outcome(Status.FAIL, "broken", "fine", "repair it")


def _result(status: Status) -> CheckResult:
    return CheckResult("c", "x", status, "", "", "fix" if status != Status.PASS else "", 1.0)


def test_check_names_are_unique() -> None:
    names = [c.name for c in CHECKS]
    assert len(names) == len(set(names))


def test_only_selects_checks_by_name_or_area() -> None:
    checks = [_check("a", OK, "one"), _check("b", OK, "two"), _check("c", OK, "two")]
    assert [c.name for c in select_checks(checks, only=["a", "two"], skip=["c"])] == ["a", "b"]


def test_a_name_that_is_both_check_and_area_selects_the_check() -> None:
    checks = [_check("spf", OK, "spf"), _check("spf-helo", OK, "spf")]
    assert [c.name for c in select_checks(checks, only=["spf"])] == ["spf"]


def test_unknown_check_name_is_a_user_error_listing_the_known_ones() -> None:
    with pytest.raises(MailshError) as e:
        select_checks([_check("a", OK)], skip=["nope"])
    assert e.value.hint is not None and "a" in e.value.hint


def test_results_come_in_check_order_with_their_outcomes() -> None:
    results = run_checks([_check("a", OK), _check("b", BAD)], _target(), deadline_s=5)
    assert [(r.name, r.status) for r in results] == [("a", Status.PASS), ("b", Status.FAIL)]


def test_a_check_that_hangs_is_an_error_after_the_deadline() -> None:
    release = threading.Event()

    def hang(_t: Target) -> Outcome:
        release.wait(5)
        return OK

    results = run_checks([Check("slow", "x", hang, "")], _target(), deadline_s=0.2)
    release.set()
    assert results[0].status == Status.ERROR
    assert "within" in results[0].observed


def test_a_network_failure_is_an_error_result_not_a_crash() -> None:
    def refuse(_t: Target) -> Outcome:
        raise ConnectionRefusedError(111, "Connection refused")

    result = run_checks([Check("net", "x", refuse, "")], _target(), deadline_s=5)[0]
    assert result.status == Status.ERROR
    assert result.fix


def test_exit_code_is_zero_with_warnings_and_one_with_a_failure_or_error() -> None:
    assert exit_code([_result(Status.PASS), _result(Status.WARN), _result(Status.SKIP)]) == 0
    assert exit_code([_result(Status.PASS), _result(Status.FAIL)]) == 1
    assert exit_code([_result(Status.ERROR)]) == 1


def test_json_report_validates_against_the_schema() -> None:
    results = run_checks([_check("a", OK), _check("b", BAD)], _target(), deadline_s=5)
    doc = report_json(results, _target(), 0.1)
    jsonschema.validate(doc, load_schema())
    assert doc["ok"] is False
    assert doc["summary"]["fail"] == 1


def test_schema_rejects_a_failure_without_a_fix() -> None:
    doc = report_json([_result(Status.PASS)], _target(), 0.1)
    doc["results"][0]["status"] = "fail"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, load_schema())


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_table_groups_by_area_and_ends_with_the_summary() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    results = run_checks([_check("a", OK, "dns"), _check("b", BAD, "tls")], _target(), deadline_s=5)
    render_table(results, 0.25, console)
    text = buffer.getvalue()
    assert text.index("DNS") < text.index("TLS")
    assert text.strip().splitlines()[-1] == "FAILED: 2 checks, 1 pass, 1 fail in 0.25 s"
