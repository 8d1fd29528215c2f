"""The DMARC check: one `_dmarc` record that parses, a policy, and authorized report addresses."""

from __future__ import annotations

from dataclasses import dataclass

from provision.deliverability import lookup
from provision.deliverability.result import Outcome, Problem, Status, combine
from provision.deliverability.tags import TagSyntaxError, parse_tags
from provision.deliverability.target import Target

POLICIES = ("none", "quarantine", "reject")
ALIGNMENT = ("r", "s")


class DmarcSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class DmarcRecord:
    policy: str
    subdomain_policy: str | None
    pct: int
    rua: tuple[str, ...]  # addresses, without "mailto:"
    ruf: tuple[str, ...]


def dmarc_records(txt_values: list[str]) -> list[str]:
    return [t for t in txt_values if t.replace(" ", "").upper().startswith("V=DMARC1")]


def _addresses(value: str | None, tag: str) -> tuple[str, ...]:
    if not value:
        return ()
    out = []
    for uri in value.split(","):
        uri = uri.strip().split("!")[0]  # drop a size limit (mailto:a@b.c!10m)
        if not uri.lower().startswith("mailto:") or "@" not in uri:
            raise DmarcSyntaxError(f"{tag}= {uri!r} is not a mailto: address")
        out.append(uri[len("mailto:") :])
    return tuple(out)


def parse_dmarc(record: str) -> DmarcRecord:
    try:
        tags = parse_tags(record)
    except TagSyntaxError as e:
        raise DmarcSyntaxError(str(e)) from None
    if next(iter(tags), None) != "v" or tags["v"] != "DMARC1":
        raise DmarcSyntaxError("must start with v=DMARC1")
    policy = tags.get("p")
    if policy not in POLICIES:
        raise DmarcSyntaxError(f"p= must be one of {', '.join(POLICIES)}, got {policy!r}")
    sp = tags.get("sp")
    if sp is not None and sp not in POLICIES:
        raise DmarcSyntaxError(f"sp= must be one of {', '.join(POLICIES)}, got {sp!r}")
    for tag in ("adkim", "aspf"):
        if tags.get(tag, "r") not in ALIGNMENT:
            raise DmarcSyntaxError(f"{tag}= must be r or s, got {tags[tag]!r}")
    pct = tags.get("pct", "100")
    if not pct.isdigit() or int(pct) > 100:
        raise DmarcSyntaxError(f"pct= must be 0..100, got {pct!r}")
    return DmarcRecord(
        policy, sp, int(pct), _addresses(tags.get("rua"), "rua"), _addresses(tags.get("ruf"), "ruf")
    )


def external_report_domains(domain: str, record: DmarcRecord) -> list[str]:
    """Report domains outside `domain` (which must authorize it, RFC 7489 §7.1)."""
    found = []
    for address in (*record.rua, *record.ruf):
        other = address.rpartition("@")[2].lower()
        related = other == domain or other.endswith("." + domain) or domain.endswith("." + other)
        if not related and other not in found:
            found.append(other)
    return found


def judge_dmarc(
    domain: str, records: list[str], authorized: dict[str, bool]
) -> tuple[Outcome, DmarcRecord | None]:
    """Judge the `_dmarc` records; `authorized` says which external report domains accept."""
    name = f"_dmarc.{domain}"
    publish = f'publish {name} TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"'
    expected = "one v=DMARC1 record, p=quarantine or reject"
    if not records:
        return Outcome(Status.FAIL, f"no record at {name}", expected, publish), None
    if len(records) > 1:
        return Outcome(
            Status.FAIL,
            f"{len(records)} records at {name}",
            expected,
            "keep exactly one (receivers ignore DMARC when there are several)",
        ), None
    try:
        record = parse_dmarc(records[0])
    except DmarcSyntaxError as e:
        return Outcome(Status.FAIL, str(e), expected, publish), None
    problems = []
    if record.policy == "none":
        problems.append(
            Problem(
                Status.WARN,
                "p=none only monitors",
                'once reports show your mail passing, set [dns] dmarc_policy = "quarantine"',
            )
        )
    if record.pct < 100:
        problems.append(Problem(Status.WARN, f"pct={record.pct}", "remove pct= (100%)"))
    for other, ok in authorized.items():
        if not ok:
            problems.append(
                Problem(
                    Status.WARN,
                    f"{other} does not accept reports for {domain}",
                    f'publish {domain}._report._dmarc.{other} TXT "v=DMARC1" '
                    "(or report to an address in your domain)",
                )
            )
    observed = f"p={record.policy}" + (f", rua={','.join(record.rua)}" if record.rua else "")
    return combine(problems, observed, expected), record


def check_dmarc(target: Target) -> Outcome:
    records = dmarc_records(lookup.txt(target.resolver, f"_dmarc.{target.domain}"))
    outcome, record = judge_dmarc(target.domain, records, {})
    if record is None:
        return outcome
    authorized = {
        other: bool(
            dmarc_records(lookup.txt(target.resolver, f"{target.domain}._report._dmarc.{other}"))
        )
        for other in external_report_domains(target.domain, record)
    }
    return judge_dmarc(target.domain, records, authorized)[0] if authorized else outcome
