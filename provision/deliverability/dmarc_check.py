"""The DMARC check: one `_dmarc` record that parses, an enforcing policy, reports that go
somewhere. checkdmarc parses the record and reports what is doubtful (its warnings);
mailsh judges them and says what to change."""

from __future__ import annotations

import re

from provision.deliverability import lookup
from provision.deliverability.checkdmarc_parse import DmarcPolicy, RecordError, parse_dmarc
from provision.deliverability.result import Outcome, Problem, Status, combine
from provision.deliverability.target import Target

_AUTHORIZATION = re.compile(r"Authorization record not found: (\S+) IN TXT")


def dmarc_records(txt_values: list[str]) -> list[str]:
    return [t for t in txt_values if t.replace(" ", "").upper().startswith("V=DMARC1")]


def warning_fix(warning: str, domain: str) -> str:
    """What to change for one of checkdmarc's DMARC warnings."""
    if "p tag value of none" in warning:
        return 'once reports show your mail passing, set [dns] dmarc_policy = "quarantine"'
    if "rua tag" in warning:
        return f"set [dns] dmarc_rua (default postmaster@{domain}) and run `invoke dns-update`"
    found = _AUTHORIZATION.search(warning)
    if found:
        return (
            f'the report domain must publish {found.group(1)} TXT "v=DMARC1" '
            "(or report to an address in your domain)"
        )
    if "pct tag" in warning:
        return "remove pct= (RFC 9989 dropped it)"
    return "correct the record (invoke dns-update publishes a good one)"


def judge_dmarc(
    domain: str, records: list[str], parsed: DmarcPolicy | RecordError | None
) -> Outcome:
    """Judge the `_dmarc` records; `parsed` is checkdmarc's reading of the one record."""
    name = f"_dmarc.{domain}"
    publish = f'publish {name} TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"'
    expected = "one v=DMARC1 record, p=quarantine or reject, with rua"
    if not records:
        return Outcome(Status.FAIL, f"no record at {name}", expected, publish)
    if len(records) > 1:
        return Outcome(
            Status.FAIL,
            f"{len(records)} records at {name}",
            expected,
            "keep exactly one (receivers ignore DMARC when there are several)",
        )
    if not isinstance(parsed, DmarcPolicy):
        return Outcome(Status.FAIL, str(parsed), expected, publish)
    problems = [Problem(Status.WARN, w, warning_fix(w, domain)) for w in parsed.warnings]
    observed = f"p={parsed.policy}" + (f", rua={','.join(parsed.rua)}" if parsed.rua else "")
    return combine(problems, observed, expected)


def check_dmarc(target: Target) -> Outcome:
    records = dmarc_records(lookup.txt(target.resolver, f"_dmarc.{target.domain}"))
    parsed: DmarcPolicy | RecordError | None = None
    if len(records) == 1:
        try:
            parsed = parse_dmarc(records[0], target.domain, target.resolver)
        except RecordError as e:
            parsed = e
    return judge_dmarc(target.domain, records, parsed)
