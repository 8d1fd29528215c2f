"""SPF records as text (RFC 7208): find them, parse their terms, count DNS-querying terms.

Pure functions; evaluating a record for an address (which needs DNS) is in spf_check.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
# Terms that cost a DNS query, limited to 10 per evaluation (RFC 7208 §4.6.4).
LOOKUP_TERMS = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})
MAX_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2
QUALIFIERS = "+-~?"
_MODIFIER = re.compile(r"^([a-z][a-z0-9_.-]*)=(.*)$", re.IGNORECASE)
_DOMAIN_SPEC = re.compile(r"^[^\s/]+$")
_CIDR = re.compile(r"^(/\d{1,2})?(//\d{1,3})?$")


class SpfSyntaxError(ValueError):
    """A record that receivers must treat as a permanent error."""


@dataclass(frozen=True)
class SpfTerm:
    name: str  # mechanism or modifier name, lowercase
    value: str  # the domain-spec, network or modifier value; "" when absent
    qualifier: str = "+"  # "" for modifiers
    cidr: str = ""

    @property
    def modifier(self) -> bool:
        return self.qualifier == ""

    @property
    def has_macro(self) -> bool:
        return "%" in self.value


def spf_records(txt_values: list[str]) -> list[str]:
    """The TXT values that are SPF records (version tag `v=spf1`, alone or followed by a space)."""
    return [t for t in txt_values if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def _mechanism(token: str) -> SpfTerm:
    qualifier = token[0] if token[0] in QUALIFIERS else "+"
    body = token[1:] if token[0] in QUALIFIERS else token
    name, _, value = body.partition(":")
    cidr = ""
    if name.split("/")[0].lower() in ("a", "mx"):
        if value:
            value, slash, rest = value.partition("/")
        else:
            name, slash, rest = name.partition("/")
        cidr = slash + rest
        match = _CIDR.match(cidr)
        v4 = match.group(1) if match else None
        v6 = match.group(2) if match else None
        if not match or (v4 and int(v4[1:]) > 32) or (v6 and int(v6[2:]) > 128):
            raise SpfSyntaxError(f"bad prefix length in {token!r}")
    name = name.lower()
    if name not in MECHANISMS:
        raise SpfSyntaxError(f"unknown mechanism {token!r}")
    if name == "all" and value:
        raise SpfSyntaxError(f"{token!r}: `all` takes no value")
    if name in ("include", "exists") and not value:
        raise SpfSyntaxError(f"{token!r} needs a domain (like {name}:example.org)")
    if name in ("include", "exists", "a", "mx", "ptr") and value and not _DOMAIN_SPEC.match(value):
        raise SpfSyntaxError(f"{token!r}: bad domain")
    if name in ("ip4", "ip6"):
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise SpfSyntaxError(f"{token!r}: {value!r} is not an address or network") from None
        if network.version != int(name[-1]):
            raise SpfSyntaxError(f"{token!r}: not an IPv{name[-1]} network")
    return SpfTerm(name, value, qualifier, cidr)


def parse_spf(record: str) -> list[SpfTerm]:
    """The terms of one SPF record, in order; SpfSyntaxError names the first bad term."""
    tokens = record.split()
    if not tokens or tokens[0].lower() != "v=spf1":
        raise SpfSyntaxError("does not start with v=spf1")
    terms: list[SpfTerm] = []
    for token in tokens[1:]:
        modifier = _MODIFIER.match(token)
        if modifier:
            name, value = modifier.group(1).lower(), modifier.group(2)
            if name in ("redirect", "exp"):
                if not value:
                    raise SpfSyntaxError(f"{token!r} needs a domain")
                if any(t.name == name for t in terms):
                    raise SpfSyntaxError(f"{name}= appears twice")
            terms.append(SpfTerm(name, value, qualifier=""))
        else:
            terms.append(_mechanism(token))
    return terms


def lookup_terms(terms: list[SpfTerm]) -> int:
    """DNS-querying terms in this record (not counting those of included records)."""
    redirect_ignored = any(t.name == "all" for t in terms)
    return sum(
        1
        for t in terms
        if t.name in LOOKUP_TERMS and not (t.name == "redirect" and redirect_ignored)
    )


def all_qualifier(terms: list[SpfTerm]) -> str | None:
    """The qualifier of `all`, or None when the record has none (then redirect= decides)."""
    return next((t.qualifier for t in terms if t.name == "all"), None)


def redirect_target(terms: list[SpfTerm]) -> str | None:
    if all_qualifier(terms) is not None:
        return None
    return next((t.value for t in terms if t.name == "redirect"), None)
