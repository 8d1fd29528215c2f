"""The DNSBL check: the server's IP is on none of the configured blocklists.

A listing is an A record 127.0.0.x at `<reversed ip>.<zone>`. Spamhaus answers
127.255.255.x when it refuses the query (public resolver, no key, rate limit):
that is an error of the check, not a listing, for every zone.
"""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum

from provision.deliverability import lookup
from provision.deliverability.dns_records import public_ip
from provision.deliverability.result import Outcome, Problem, Status, combine
from provision.deliverability.target import Target

REFUSED_NET = ipaddress.ip_network("127.255.255.0/24")
LISTED_NET = ipaddress.ip_network("127.0.0.0/8")

SPAMHAUS_CODES = {
    "127.0.0.2": "SBL, spam source",
    "127.0.0.3": "SBL CSS, snowshoe spam",
    "127.0.0.4": "XBL, exploited or infected host",
    "127.0.0.9": "SBL DROP, hijacked network",
    "127.0.0.10": "PBL, end-user range (ISP policy)",
    "127.0.0.11": "PBL, end-user range (Spamhaus policy)",
}
SPAMHAUS_REFUSALS = {
    "127.255.255.252": "typing error in the zone name",
    "127.255.255.254": "query through a public or open resolver",
    "127.255.255.255": "too many queries",
}
KNOWN_CODES = {"zen.spamhaus.org": SPAMHAUS_CODES}


class Verdict(StrEnum):
    CLEAN = "clean"
    LISTED = "listed"
    REFUSED = "refused"


@dataclass(frozen=True)
class ZoneAnswer:
    zone: str
    verdict: Verdict
    detail: str


def interpret(zone: str, answers: list[str]) -> ZoneAnswer:
    """What a zone's A answers for the IP mean."""
    refusals = [a for a in answers if ipaddress.ip_address(a) in REFUSED_NET]
    if refusals:
        reason = SPAMHAUS_REFUSALS.get(refusals[0], "query refused")
        return ZoneAnswer(zone, Verdict.REFUSED, f"{refusals[0]}: {reason}")
    listings = [a for a in answers if ipaddress.ip_address(a) in LISTED_NET]
    if not listings:
        return ZoneAnswer(zone, Verdict.CLEAN, "")
    codes = KNOWN_CODES.get(zone, {})
    return ZoneAnswer(
        zone, Verdict.LISTED, ", ".join(f"{a} {codes.get(a, 'listed')}".strip() for a in listings)
    )


def judge_listings(ip: str, answers: list[ZoneAnswer]) -> Outcome:
    problems = []
    for a in answers:
        if a.verdict == Verdict.LISTED:
            fix = f"find why {ip} is listed on {a.zone} and request delisting there"
            if "PBL" in a.detail:
                fix = "send through a relay ([relay] in mailsh.toml) or get a static IP"
            problems.append(Problem(Status.FAIL, f"listed on {a.zone} ({a.detail})", fix))
        elif a.verdict == Verdict.REFUSED:
            problems.append(
                Problem(
                    Status.ERROR,
                    f"{a.zone} refused the query ({a.detail})",
                    "query it through your own resolver ([deliverability] resolvers) "
                    "or --skip dnsbl",
                )
            )
    zones = ", ".join(a.zone for a in answers)
    return combine(problems, f"{ip} on {len(answers)} zones", f"listed on none of {zones}")


def check_dnsbl(target: Target) -> Outcome:
    ip = public_ip(target)
    if ip is None:
        return Outcome(Status.FAIL, "no public IP known", "[dns] ip", "set [dns] ip in mailsh.toml")
    if not target.dnsbl_zones:
        return Outcome(Status.SKIP, "no zones configured", "[deliverability] dnsbl_zones")
    labels = lookup.reversed_labels(ip)

    def query(zone: str) -> ZoneAnswer:
        try:
            found = lookup.addresses(target.resolver, f"{labels}.{zone}", "A")
        except lookup.DnsLookupError as e:
            return ZoneAnswer(zone, Verdict.REFUSED, e.message)
        return interpret(zone, found)

    with ThreadPoolExecutor(max_workers=len(target.dnsbl_zones)) as pool:
        answers = list(pool.map(query, target.dnsbl_zones))
    return judge_listings(ip, answers)
