"""checkdmarc parses SPF, DMARC, MTA-STS and TLS-RPT records; this module is the one place
that calls it. mailsh keeps its own judgements (the checks) and its own lookups and HTTPS
fetch; what checkdmarc resolves while walking a record goes through the resolver passed
in. checkdmarc keeps a process-wide DNS cache, blind to the resolver: it is emptied
before every walk, so no check sees an answer older than itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import checkdmarc.utils
import dns.resolver
from checkdmarc import dmarc, mta_sts, smtp_tls_reporting, spf

from provision.deliverability.lookup import DnsLookupError


class RecordError(ValueError):
    """A record receivers must treat as broken; the message says where and why."""


@dataclass(frozen=True)
class SpfWalk:
    """A record and everything it includes, as an evaluation walks it."""

    lookups: int
    void: int
    all: str  # "fail", "softfail", "neutral" (also when there is no all), "pass"
    mechanisms: tuple[str, ...]
    warnings: tuple[str, ...]


class TooManyVoidLookups(RecordError):
    def __init__(self, message: str, void: int) -> None:
        super().__init__(message)
        self.void = void


@dataclass(frozen=True)
class DmarcPolicy:
    policy: str
    rua: tuple[str, ...]  # mailto: URIs
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class StsPolicy:
    mode: str
    mx: tuple[str, ...]
    max_age: int
    warnings: tuple[str, ...]


def _forget_answers() -> None:
    checkdmarc.utils.DNS_CACHE.clear()


def is_spf(value: str) -> bool:
    return value.lower() == "v=spf1" or value.lower().startswith("v=spf1 ")


def walk_spf(record: str, domain: str, resolver: dns.resolver.Resolver) -> SpfWalk:
    """Parse `record` and follow its include:/redirect=, counting DNS-querying terms and
    void lookups (RFC 7208 §4.6.4); RecordError for syntax errors, loops, > 2 voids."""
    _forget_answers()
    try:
        parsed = spf.parse_spf_record(
            record, domain, resolver=resolver, ignore_too_many_lookups=True
        )
    except spf.SPFTooManyVoidDNSLookups as e:
        data: dict[str, Any] = getattr(e, "data", None) or {}
        raise TooManyVoidLookups(str(e), int(data.get("void_dns_lookups", 3))) from None
    except spf.SPFError as e:
        raise RecordError(str(e)) from None
    except checkdmarc.utils.DNSException as e:
        raise DnsLookupError(f"SPF of {domain}: {e}") from None
    terms = parsed["parsed"]
    return SpfWalk(
        lookups=int(parsed["dns_lookups"]),
        void=int(parsed["void_dns_lookups"]),
        all=str(terms["all"]),
        mechanisms=tuple(str(m["mechanism"]) for m in terms["mechanisms"]),
        warnings=tuple(str(w) for w in parsed["warnings"]),
    )


def parse_dmarc(record: str, domain: str, resolver: dns.resolver.Resolver) -> DmarcPolicy:
    """The policy and report addresses; checkdmarc's warnings include report domains that
    do not accept reports for `domain` (RFC 7489 §7.1, looked up through `resolver`)."""
    _forget_answers()
    try:
        parsed = dmarc.parse_dmarc_record(record, domain, resolver=resolver)
    except dmarc.DMARCError as e:
        raise RecordError(str(e)) from None
    except checkdmarc.utils.DNSException as e:
        raise DnsLookupError(f"DMARC of {domain}: {e}") from None
    tags = parsed["tags"]
    rua = tags.get("rua", {}).get("value", [])
    uris = tuple(str(u["scheme"]) + ":" + str(u["address"]) for u in rua)
    return DmarcPolicy(str(tags["p"]["value"]), uris, tuple(parsed["warnings"]))


def sts_record_id(record: str) -> str:
    try:
        return str(mta_sts.parse_mta_sts_record(record)["tags"]["id"])
    except mta_sts.MTASTSError as e:
        raise RecordError(str(e)) from None


def parse_sts_policy(text: str) -> StsPolicy:
    try:
        parsed = mta_sts.parse_mta_sts_policy(text)
    except mta_sts.MTASTSError as e:
        raise RecordError(str(e)) from None
    policy = parsed["policy"]
    mx = tuple(str(m).lower().rstrip(".") for m in policy.get("mx", []))
    return StsPolicy(str(policy["mode"]), mx, int(policy["max_age"]), tuple(parsed["warnings"]))


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 §4.1: exact, or `*.` standing for exactly one leftmost label."""
    return bool(mta_sts.mx_in_mta_sts_patterns(host, [pattern]))


def tlsrpt_uris(record: str) -> tuple[str, ...]:
    """The `rua=` URIs of a TLS-RPT record (RFC 8460 §3)."""
    try:
        parsed = smtp_tls_reporting.parse_smtp_tls_reporting_record(record)
    except smtp_tls_reporting.SMTPTLSReportingError as e:
        raise RecordError(str(e)) from None
    return tuple(str(u) for u in parsed["tags"]["rua"]["value"])
