"""The SPF check: one record, valid, within the lookup limits, authorizing the server's IP.

checkdmarc parses and walks the record (checkdmarc_parse.py); authorization is
evaluated by pyspf. pyspf takes its DNS from the module-level `spf.DNSLookup`
(its own test suite swaps it the same way); we swap in a lookup over the
caller's resolver for the duration of one evaluation, under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import dns.exception
import dns.resolver
import spf

from provision.deliverability import lookup
from provision.deliverability.checkdmarc_parse import (
    RecordError,
    TooManyVoidLookups,
    is_spf,
    walk_spf,
)
from provision.deliverability.dns_records import public_ip
from provision.deliverability.result import Outcome, Problem, Status, combine
from provision.deliverability.target import Target
from provision.dns.records import HELO_SPF

# RFC 7208 §4.6.4: at most 10 DNS-querying terms and 2 lookups that find nothing.
MAX_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2
_PYSPF_DNS = threading.Lock()


def spf_records(txt_values: list[str]) -> list[str]:
    """The TXT values that are SPF records (version tag `v=spf1`, alone or followed by a space)."""
    return [t for t in txt_values if is_spf(t)]


def pyspf_lookup(resolver: dns.resolver.Resolver) -> Callable[..., list[tuple[Any, Any]]]:
    """A replacement for `spf.DNSLookup` answering from `resolver`, in pyspf's result shape."""

    def dns_lookup(name: str, qtype: str, *_args: Any, **_kw: Any) -> list[tuple[Any, Any]]:
        try:
            answer = resolver.resolve(name, qtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return []
        except dns.exception.DNSException as e:
            raise spf.TempError(f"DNS {e}") from e
        if answer.rrset is None:
            return []
        key = (name, qtype)
        if qtype in ("A", "AAAA"):
            return [(key, r.address) for r in answer.rrset]
        if qtype == "MX":
            return [
                (key, (r.preference, r.exchange.to_text(omit_final_dot=True))) for r in answer.rrset
            ]
        if qtype == "PTR":
            return [(key, r.target.to_text(omit_final_dot=True)) for r in answer.rrset]
        return [(key, r.strings) for r in answer.rrset]

    return dns_lookup


def evaluate_spf(resolver: dns.resolver.Resolver, ip: str, sender: str, helo: str) -> str:
    """pyspf's verdict (pass, fail, softfail, neutral, none, permerror, temperror) for the
    envelope `sender` (empty: the null sender, judged by the HELO name)."""
    with _PYSPF_DNS:
        saved = spf.DNSLookup
        spf.DNSLookup = pyspf_lookup(resolver)
        try:
            result, _explanation = spf.check2(i=ip, s=sender, h=helo)
        finally:
            spf.DNSLookup = saved
    return str(result)


ALL_PROBLEMS = {
    "pass": Problem(Status.FAIL, "+all authorizes every host", "end the record with -all"),
    "neutral": Problem(
        Status.WARN, "?all (or no all) says nothing about other hosts", "end the record with -all"
    ),
}
VOID_FIX = (
    "remove the terms that name domains without records, or publish those records "
    "(receivers count void lookups, RFC 7208 §4.6.4)"
)


def check_spf(target: Target) -> Outcome:
    domain = target.domain
    records = spf_records(lookup.txt(target.resolver, domain))
    publish = f'publish {domain} TXT "{target.spf_record}" (invoke dns-update)'
    if not records:
        return Outcome(Status.FAIL, "no SPF record", "one v=spf1 record", publish)
    if len(records) > 1:
        return Outcome(
            Status.FAIL,
            f"{len(records)} SPF records",
            "exactly one",
            "merge them into one record (receivers treat several as a permanent error)",
        )
    record = records[0]
    expected = f"one valid record authorizing the server, <= {MAX_LOOKUPS} lookups, -all"
    try:
        walk = walk_spf(record, domain, target.resolver)
    except TooManyVoidLookups as e:
        return Outcome(
            Status.FAIL,
            f"{record!r}: {e.void} void lookups (max {MAX_VOID_LOOKUPS})",
            expected,
            VOID_FIX,
        )
    except RecordError as e:
        return Outcome(Status.FAIL, f"{record!r}: {e}", expected, f"fix it, or {publish}")
    problems = [Problem(Status.WARN, w, VOID_FIX) for w in walk.warnings]
    if walk.void and not walk.warnings:
        problems.append(Problem(Status.WARN, f"{walk.void} void lookup(s)", VOID_FIX))
    if walk.lookups > MAX_LOOKUPS:
        problems.append(
            Problem(
                Status.FAIL,
                f"{walk.lookups} DNS-querying terms (max {MAX_LOOKUPS})",
                "replace include:/a/mx terms by ip4:/ip6: networks",
            )
        )
    if "ptr" in walk.mechanisms:
        problems.append(
            Problem(Status.WARN, "uses ptr (deprecated, slow)", "replace ptr with a or ip4")
        )
    if walk.all in ALL_PROBLEMS:
        problems.append(ALL_PROBLEMS[walk.all])
    ip = public_ip(target)
    verdict = "not evaluated (no public IP known)"
    if ip is not None:
        verdict = evaluate_spf(target.resolver, ip, f"postmaster@{domain}", target.hostname)
        if verdict == "temperror":
            problems.append(Problem(Status.ERROR, "temperror", "make sure the resolvers answer"))
        elif verdict == "permerror":
            problems.append(
                Problem(
                    Status.FAIL, "receivers get permerror", "correct it so receivers can use it"
                )
            )
        elif verdict != "pass":
            mechanism = f"ip{6 if ':' in ip else 4}:{ip}"
            problems.append(
                Problem(Status.FAIL, f"{ip} gets {verdict}", f"add {mechanism} (or a/mx) to it")
            )
    observed = f"{record!r}: {ip} {verdict}, {walk.lookups} lookups, {walk.void} void"
    return combine(problems, observed, expected)


def check_spf_helo(target: Target) -> Outcome:
    """Replies leave with a null envelope sender: receivers judge SPF on the HELO name."""
    host = target.hostname
    expected = f"{host} TXT authorizing the server (null-sender mail: the replies)"
    publish = f'publish {host} TXT "{HELO_SPF}" (invoke dns-update)'
    records = spf_records(lookup.txt(target.resolver, host))
    if not records:
        return Outcome(Status.WARN, "no SPF record: replies get spf=none", expected, publish)
    if len(records) > 1:
        return Outcome(Status.FAIL, f"{len(records)} SPF records", expected, "keep one")
    try:
        walk = walk_spf(records[0], host, target.resolver)
    except RecordError as e:
        return Outcome(Status.FAIL, f"{records[0]!r}: {e}", expected, publish)
    problems = [Problem(Status.WARN, w, VOID_FIX) for w in walk.warnings]
    ip = public_ip(target)
    if ip is None:
        return Outcome(Status.FAIL, "no public IP known", expected, "set [dns] ip in mailsh.toml")
    verdict = evaluate_spf(target.resolver, ip, "", host)
    if verdict != "pass":
        problems.append(Problem(Status.FAIL, f"{ip} gets {verdict}", publish))
    return combine(problems, f"{records[0]!r}: {ip} {verdict}", expected)
