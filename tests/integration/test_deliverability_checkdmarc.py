"""check-deliverability against an independent checker: for the provisioned lab zone as
dns-update publishes it, and for that zone with one defect at a time, every SPF, DMARC,
MX, MTA-STS and TLS-RPT finding of checkdmarc (asked through the lab's resolver, its
whole checks, not the parsers mailsh uses) appears in mailsh's report with the same
verdict: a checkdmarc error is a failure, a warning a warning, no finding a pass.
mailsh may find more than checkdmarc (it also judges ?all, the MTA-STS mode...)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import checkdmarc
import checkdmarc.utils
import dns.resolver
import pytest
from checkdmarc import mta_sts, smtp_tls_reporting

from provision.deliverability.catalog import check_deliverability
from provision.deliverability.target import target_from_settings
from provision.render import MTA_STS_PATH
from tests.fixtures.acme import https_get
from tests.lab.bind import LabDns
from tests.lab.mail_lab import LabMailServer
from tests.lab.zones import LabZones, txt

# checkdmarc findings that depend on the network, not on the records: not compared.
NETWORK_DEPENDENT = ("reverse DNS", "PTR record", "DNSSEC")
VERDICTS = {"error": "fail", "warning": "warn", "ok": "pass"}


@dataclass(frozen=True)
class Finding:
    verdict: str  # "error", "warning" or "ok"
    messages: tuple[str, ...] = ()


def _finding(result: dict[str, Any]) -> Finding:
    warnings = tuple(
        w for w in result.get("warnings", []) if not any(n in w for n in NETWORK_DEPENDENT)
    )
    if result.get("error") or result.get("valid") is False:
        return Finding("error", (str(result.get("error")), *warnings))
    return Finding("warning" if warnings else "ok", warnings)


def _mta_sts(domain: str, resolver: dns.resolver.Resolver, policy: str) -> dict[str, Any]:
    """checkdmarc's check_mta_sts, with the policy the test fetched (checkdmarc would fetch
    it from port 443 of the real name, which the host cannot reach in the lab)."""
    try:
        query = mta_sts.query_mta_sts_record(domain, resolver=resolver)
        record = mta_sts.parse_mta_sts_record(query["record"])
        parsed = mta_sts.parse_mta_sts_policy(policy)
    except mta_sts.MTASTSError as e:
        return {"valid": False, "error": str(e)}
    return {"valid": True, "warnings": query["warnings"] + record["warnings"] + parsed["warnings"]}


def checkdmarc_findings(
    domain: str, hostname: str, resolver: dns.resolver.Resolver, policy: str
) -> dict[str, Finding]:
    """checkdmarc's verdict per check of ours, asked afresh (its DNS cache emptied)."""
    checkdmarc.utils.DNS_CACHE.clear()
    sts = _mta_sts(domain, resolver, policy)
    patterns = mta_sts.parse_mta_sts_policy(policy)["policy"].get("mx", [])
    return {
        "spf": _finding(checkdmarc.check_spf(domain, resolver=resolver)),
        "spf-helo": _finding(checkdmarc.check_spf(hostname, resolver=resolver)),
        "dmarc": _finding(dict(checkdmarc.check_dmarc(domain, resolver=resolver))),
        "mx": _finding(
            dict(checkdmarc.check_mx(domain, resolver=resolver, mta_sts_mx_patterns=patterns))
        ),
        "mta-sts": _finding(sts),
        "tls-rpt": _finding(
            dict(smtp_tls_reporting.check_smtp_tls_reporting(domain, resolver=resolver))
        ),
    }


@dataclass(frozen=True)
class Defect:
    """One change to the good zone. `stricter`: checks where mailsh deliberately judges
    harder than checkdmarc, with the verdict mailsh gives and why."""

    replace: Callable[[str, str], dict[tuple[str, str], list[str]]] = lambda d, h: {}
    delete: Callable[[str, str], list[tuple[str, str]]] = lambda d, h: []
    stricter: dict[str, str] = field(default_factory=dict)


def _dmarc(value: str) -> Callable[[str, str], dict[tuple[str, str], list[str]]]:
    return lambda d, h: {(f"_dmarc.{d}", "TXT"): [txt(value.format(d=d))]}


def _spf(value: str) -> Callable[[str, str], dict[tuple[str, str], list[str]]]:
    return lambda d, h: {(d, "TXT"): [txt(value.format(d=d))]}


DEFECTS = {
    "as published": Defect(),
    "spf a without address": Defect(_spf("v=spf1 a mx -all")),
    "spf three void lookups": Defect(_spf("v=spf1 a:v1.{d} a:v2.{d} a:v3.{d} mx -all")),
    "spf two records": Defect(
        lambda d, h: {(d, "TXT"): [txt("v=spf1 mx -all"), txt("v=spf1 -all")]}
    ),
    "spf syntax": Defect(_spf("v=spf1 mx foo -all")),
    "spf missing": Defect(delete=lambda d, h: [(d, "TXT")]),
    "helo spf void lookup": Defect(lambda d, h: {(h, "TXT"): [txt(f"v=spf1 a a:void.{d} -all")]}),
    "dmarc p=none": Defect(_dmarc("v=DMARC1; p=none; rua=mailto:postmaster@{d}")),
    "dmarc without rua": Defect(_dmarc("v=DMARC1; p=quarantine")),
    "dmarc pct": Defect(_dmarc("v=DMARC1; p=quarantine; pct=50; rua=mailto:postmaster@{d}")),
    "dmarc bad policy": Defect(_dmarc("v=DMARC1; p=maybe")),
    "dmarc missing": Defect(delete=lambda d, h: [(f"_dmarc.{d}", "TXT")]),
    # The SPF names the MX: without it the server's IP is no longer authorized, which
    # mailsh evaluates (pyspf) and checkdmarc does not (it warns of the void lookup).
    "mx missing, address at the domain": Defect(
        lambda d, h: {(d, "A"): ["192.0.2.25"]},
        lambda d, h: [(d, "MX")],
        stricter={"spf": "fail"},
    ),
    "mx missing, no address": Defect(
        delete=lambda d, h: [(d, "MX")],
        # Mail for the domain has nowhere to go: mailsh fails where checkdmarc warns.
        stricter={"mx": "fail", "spf": "fail"},
    ),
    "mta-sts record missing": Defect(delete=lambda d, h: [(f"_mta-sts.{d}", "TXT")]),
    "mta-sts bad id": Defect(lambda d, h: {(f"_mta-sts.{d}", "TXT"): [txt("v=STSv1; id=")]}),
    "tls-rpt missing": Defect(delete=lambda d, h: [(f"_smtp._tls.{d}", "TXT")]),
    "tls-rpt bad uri": Defect(
        lambda d, h: {(f"_smtp._tls.{d}", "TXT"): [txt("v=TLSRPTv1; rua=ftp://x")]}
    ),
}


@pytest.fixture(scope="module")
def served_policy(lab_mail_server: LabMailServer) -> str:
    settings = lab_mail_server.server.settings
    assert settings.deliverability.ca_bundle is not None
    ctx = ssl.create_default_context(cafile=str(settings.deliverability.ca_bundle))
    host, port = lab_mail_server.server.https
    _, response = https_get(host, port, f"mta-sts.{settings.domain}", MTA_STS_PATH, ctx)
    return response.split(b"\r\n\r\n", 1)[1].decode()


@pytest.mark.parametrize("name", list(DEFECTS))
def test_every_checkdmarc_finding_is_in_our_report_with_the_same_verdict(
    name: str,
    lab_mail_server: LabMailServer,
    lab_dns: LabDns,
    lab_zones: LabZones,
    served_policy: str,
) -> None:
    settings = lab_mail_server.server.settings
    domain, hostname = settings.domain, settings.fqdn
    defect = DEFECTS[name]
    target = target_from_settings(settings, resolver=lab_dns.resolver())
    with lab_zones.changed(defect.replace(domain, hostname), defect.delete(domain, hostname)):
        theirs = checkdmarc_findings(domain, hostname, lab_dns.resolver(), served_policy)
        ours = {r.name: r for r in check_deliverability(target, only=list(theirs)).results}
    found = {c: f for c, f in theirs.items() if f.verdict != "ok"}
    assert found or name == "as published", "the defect must be one checkdmarc sees"
    disagreements = {}
    for check, finding in found.items():
        want = defect.stricter.get(check, VERDICTS[finding.verdict])
        if ours[check].status.value != want:
            disagreements[check] = (finding, ours[check])
    assert not disagreements, disagreements


def test_checkdmarc_finds_nothing_in_the_records_dns_update_publishes(
    lab_mail_server: LabMailServer, lab_dns: LabDns, served_policy: str
) -> None:
    settings = lab_mail_server.server.settings
    theirs = checkdmarc_findings(settings.domain, settings.fqdn, lab_dns.resolver(), served_policy)
    assert {c: f for c, f in theirs.items() if f.verdict != "ok"} == {}
