"""The SPF check: one record, valid, within the lookup limits, authorizing the server's IP.

Authorization is evaluated by pyspf. pyspf takes its DNS from the module-level
`spf.DNSLookup` (its own test suite swaps it the same way); we swap in a lookup
over the caller's resolver for the duration of one evaluation, under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.resolver
import spf

from provision.deliverability import lookup
from provision.deliverability.dns_records import public_ip
from provision.deliverability.result import Outcome, Problem, Status, combine, passed
from provision.deliverability.spf_record import (
    MAX_LOOKUPS,
    MAX_VOID_LOOKUPS,
    SpfSyntaxError,
    all_qualifier,
    parse_spf,
    redirect_target,
    spf_records,
)
from provision.deliverability.target import Target

MAX_DEPTH = 10
_PYSPF_DNS = threading.Lock()


@dataclass
class SpfTally:
    """What walking a record and everything it includes found."""

    lookups: int = 0
    void: int = 0
    final_all: str | None = None
    problems: list[Problem] = field(default_factory=list)


def _void(tally: SpfTally, found: list[Any]) -> None:
    if not found:
        tally.void += 1


def tally_record(
    resolver: dns.resolver.Resolver, domain: str, record: str, tally: SpfTally, depth: int = 0
) -> None:
    """Count DNS-querying terms and void lookups through include: and redirect=, recursively."""
    terms = parse_spf(record)
    if depth == 0:
        tally.final_all = all_qualifier(terms)
    for term in terms:
        target = term.value or domain
        if term.name in ("a", "mx", "ptr", "exists", "include"):
            tally.lookups += 1
        if term.has_macro:
            continue  # depends on the sender: counted, not followed
        if term.name == "a":
            _void(tally, lookup.addresses(resolver, target, "A"))
        elif term.name == "mx":
            _void(tally, lookup.mx(resolver, target))
        elif term.name == "ptr":
            tally.problems.append(
                Problem(Status.WARN, "uses ptr (deprecated, slow)", "replace ptr with a or ip4")
            )
        elif term.name == "include":
            _follow(resolver, target, tally, depth, redirect=False)
    redirect = redirect_target(terms)
    if redirect and "%" not in redirect:
        tally.lookups += 1
        _follow(resolver, redirect, tally, depth, redirect=True)


def _follow(
    resolver: dns.resolver.Resolver, domain: str, tally: SpfTally, depth: int, redirect: bool
) -> None:
    kind = "redirect=" if redirect else "include:"
    if depth >= MAX_DEPTH:
        tally.problems.append(Problem(Status.FAIL, f"{kind}{domain} loops", "remove the loop"))
        return
    records = spf_records(lookup.txt(resolver, domain))
    if len(records) != 1:
        tally.void += not records
        tally.problems.append(
            Problem(
                Status.FAIL,
                f"{kind}{domain} has {len(records) or 'no'} SPF records",
                f"fix or remove {kind}{domain}",
            )
        )
        return
    try:
        tally_record(resolver, domain, records[0], tally, depth + 1)
    except SpfSyntaxError as e:
        tally.problems.append(Problem(Status.FAIL, f"{kind}{domain}: {e}", f"fix {domain}'s SPF"))
        return
    if redirect:
        tally.final_all = all_qualifier(parse_spf(records[0]))


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
    "+": Problem(Status.FAIL, "+all authorizes every host", "end the record with -all"),
    "?": Problem(Status.WARN, "?all says nothing about other hosts", "end the record with -all"),
    None: Problem(Status.WARN, "no all at the end", "end the record with -all"),
}


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
    tally = SpfTally()
    try:
        tally_record(target.resolver, domain, record, tally)
    except SpfSyntaxError as e:
        return Outcome(Status.FAIL, f"{record!r}: {e}", expected, f"fix the syntax or {publish}")
    problems = list(tally.problems)
    if tally.lookups > MAX_LOOKUPS:
        problems.append(
            Problem(
                Status.FAIL,
                f"{tally.lookups} DNS-querying terms (max {MAX_LOOKUPS})",
                "replace include:/a/mx terms by ip4:/ip6: networks",
            )
        )
    if tally.void > MAX_VOID_LOOKUPS:
        problems.append(
            Problem(
                Status.FAIL,
                f"{tally.void} void lookups (max {MAX_VOID_LOOKUPS})",
                "remove terms naming domains without records",
            )
        )
    if tally.final_all not in ("-", "~"):
        problems.append(ALL_PROBLEMS[tally.final_all])
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
    observed = f"{record!r}: {ip} {verdict}, {tally.lookups} lookups, {tally.void} void"
    return combine(problems, observed, expected)


def check_spf_helo(target: Target) -> Outcome:
    """Replies leave with a null envelope sender: receivers judge SPF on the HELO name."""
    host = target.hostname
    expected = f"{host} TXT authorizing the server (null-sender mail: the replies)"
    publish = f'publish {host} TXT "v=spf1 a -all" (invoke dns-update)'
    records = spf_records(lookup.txt(target.resolver, host))
    if not records:
        return Outcome(Status.WARN, "no SPF record: replies get spf=none", expected, publish)
    if len(records) > 1:
        return Outcome(Status.FAIL, f"{len(records)} SPF records", expected, "keep one")
    ip = public_ip(target)
    if ip is None:
        return Outcome(Status.FAIL, "no public IP known", expected, "set [dns] ip in mailsh.toml")
    verdict = evaluate_spf(target.resolver, ip, "", host)
    if verdict == "pass":
        return passed(f"{records[0]!r}: {ip} pass", expected)
    return Outcome(Status.FAIL, f"{records[0]!r}: {ip} {verdict}", expected, publish)
