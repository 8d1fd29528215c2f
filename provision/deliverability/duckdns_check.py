"""The DuckDNS check: one TXT value answered for every name means SPF, DKIM, DMARC,
MTA-STS and TLS-RPT cannot all exist; say which one is published and which are missing."""

from __future__ import annotations

import secrets

from provision.deliverability import lookup
from provision.deliverability.result import Outcome, Status, passed
from provision.deliverability.target import Target

KINDS = ("spf", "dkim", "dmarc", "mta-sts", "tls-rpt")
LABELS = {
    "spf": "SPF",
    "dkim": "DKIM",
    "dmarc": "DMARC",
    "mta-sts": "MTA-STS",
    "tls-rpt": "TLS-RPT",
}
PREFIXES = {
    "v=spf1": "spf",
    "v=dkim1": "dkim",
    "v=dmarc1": "dmarc",
    "v=stsv1": "mta-sts",
    "v=tlsrptv1": "tls-rpt",
}


def record_names(domain: str, selector: str) -> dict[str, str]:
    """Where each mail TXT record lives."""
    return {
        "spf": domain,
        "dkim": f"{selector}._domainkey.{domain}",
        "dmarc": f"_dmarc.{domain}",
        "mta-sts": f"_mta-sts.{domain}",
        "tls-rpt": f"_smtp._tls.{domain}",
    }


def kind_of(value: str) -> str:
    compact = value.replace(" ", "").lower()
    if compact.startswith(("k=rsa;", "p=")):
        return "dkim"
    return next((k for p, k in PREFIXES.items() if compact.startswith(p)), "other")


def shared_txt(observed: dict[str, list[str]], probe: list[str]) -> str | None:
    """The single value answered at every name (and at a random name below the domain),
    or None when names have their own records."""
    if len(probe) != 1:
        return None
    value = probe[0]
    return value if all(v == [value] for v in observed.values()) else None


def duckdns_outcome(observed: dict[str, list[str]], probe: list[str]) -> Outcome:
    expected = "separate " + ", ".join(LABELS.values()) + " records"
    value = shared_txt(observed, probe)
    if value is None:
        return passed("each name has its own TXT records", expected)
    kind = kind_of(value)
    shown = LABELS.get(kind, "a non-mail value")
    missing = [LABELS[k] for k in KINDS if k != kind]
    return Outcome(
        Status.WARN,
        f"one TXT value for every name (DuckDNS): {shown} published, so "
        f"{', '.join(missing)} are missing",
        expected,
        "DuckDNS keeps one TXT per domain: choose it with [dns.duckdns] txt, or move the "
        'domain to a DNS host with full records ([dns] provider = "rfc2136")',
    )


def check_duckdns(target: Target) -> Outcome:
    names = record_names(target.domain, target.selector)
    observed = {kind: lookup.txt(target.resolver, name) for kind, name in names.items()}
    probe = lookup.txt(target.resolver, f"probe-{secrets.token_hex(4)}.{target.domain}")
    return duckdns_outcome(observed, probe)
