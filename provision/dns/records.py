"""The DNS records a deliverable mail domain needs: pure functions of settings and keys.

For `domain` with server `fqdn`: A/AAAA of `fqdn` and of `mta-sts.<domain>`
(when `[dns] ip`/`ipv6` are set), MX, SPF, DKIM (`<selector>._domainkey`, one
per selector in use), DMARC (`_dmarc`), MTA-STS (`_mta-sts`, its id a hash of
the policy caddy serves) and TLS-RPT (`_smtp._tls`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from provision.config import Settings
from provision.dkim import DkimRecordValue
from provision.dns.provider import Capabilities, Record

SPF_PREFIX = "v=spf1"
HELO_SPF = "v=spf1 a -all"
MTA_STS_ID_LENGTH = 20


@dataclass(frozen=True)
class MailRecord:
    """A record with what it is for. `values == ()` means: must not exist.

    `shared_prefix`: the name holds other TXT values too (the domain's apex):
    only the values starting with it are ours, the others are kept.
    """

    kind: str
    record: Record
    shared_prefix: str | None = None


def default_spf(settings: Settings, capabilities: Capabilities) -> str:
    """SPF naming only what is published, so no term is a void lookup (RFC 7208 §4.6.4):
    `mx` when the provider publishes MX, `a` when the domain itself has the address (the
    hostname is the domain, or the provider answers it for every name below)."""
    terms = []
    own_address = settings.dns.ip is not None and (
        settings.fqdn == settings.domain or capabilities.single_txt
    )
    if own_address or not capabilities.mx:
        terms.append("a")
    if capabilities.mx:
        terms.append("mx")
    return f"v=spf1 {' '.join(terms)} -all"


def spf_value(settings: Settings, capabilities: Capabilities) -> str:
    return settings.dns.spf or default_spf(settings, capabilities)


def mx_value(settings: Settings) -> str:
    return f"10 {settings.fqdn}."


def dmarc_value(settings: Settings) -> str:
    """Aggregate reports go to `[dns] dmarc_rua`, else the domain's own postmaster: an
    address in the domain needs no consent from another domain (RFC 7489 §7.1)."""
    rua = settings.dns.dmarc_rua or f"postmaster@{settings.domain}"
    return f"v=DMARC1; p={settings.dns.dmarc_policy}; rua=mailto:{rua}"


def mta_sts_host(settings: Settings) -> str:
    """The policy host: caddy serves it, the ACME certificate covers it."""
    return f"mta-sts.{settings.domain}"


def mta_sts_policy(settings: Settings) -> str:
    """The policy file served at https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461);
    its MX patterns are `[mta_sts] mx`, or the server's hostname."""
    lines = [
        "version: STSv1",
        f"mode: {settings.mta_sts.mode}",
        *(f"mx: {mx}" for mx in settings.mta_sts.mx or [settings.fqdn]),
        f"max_age: {settings.mta_sts.max_age}",
    ]
    return "\r\n".join(lines) + "\r\n"


def mta_sts_id(policy_text: str) -> str:
    """The `id=` for a policy text: it changes exactly when the text does."""
    return hashlib.sha256(policy_text.encode()).hexdigest()[:MTA_STS_ID_LENGTH]


def mta_sts_value(settings: Settings) -> str:
    """`_mta-sts` TXT; its id changes exactly when the policy text does."""
    return f"v=STSv1; id={mta_sts_id(mta_sts_policy(settings))}"


def tlsrpt_value(settings: Settings) -> str:
    return f"v=TLSRPTv1; rua=mailto:{settings.dns.tlsrpt_rua or settings.postmaster}"


def dkim_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def desired_records(
    settings: Settings, dkim: Sequence[DkimRecordValue], capabilities: Capabilities
) -> list[MailRecord]:
    """Every record to publish, in the order a reader expects them."""
    dns, domain, ttl = settings.dns, settings.domain, settings.dns.ttl
    sts = settings.mta_sts.enabled
    hosts = (settings.fqdn, mta_sts_host(settings)) if sts else (settings.fqdn,)
    records: list[MailRecord] = []
    if dns.ip is not None:
        records += [MailRecord("A", Record(h, "A", (dns.ip,), ttl)) for h in hosts]
        # A stale AAAA sends IPv6 senders elsewhere: without `ipv6` it must not exist.
        v6 = (dns.ipv6,) if dns.ipv6 else ()
        records += [MailRecord("AAAA", Record(h, "AAAA", v6, ttl)) for h in hosts]
    records += [
        MailRecord("MX", Record(domain, "MX", (mx_value(settings),), ttl)),
        MailRecord(
            "SPF",
            Record(domain, "TXT", (spf_value(settings, capabilities),), ttl),
            shared_prefix=SPF_PREFIX,
        ),
    ]
    if settings.fqdn != domain:
        # Replies leave with a null envelope sender (RFC 3834): receivers then check SPF
        # for the HELO name, which gets `none` without a record of its own.
        helo = Record(settings.fqdn, "TXT", (HELO_SPF,), ttl)
        records.append(MailRecord("SPF-HELO", helo, shared_prefix=SPF_PREFIX))
    for d in dkim:
        value = (d.value,) if d.value is not None else ()
        records.append(MailRecord("DKIM", Record(dkim_name(d.selector, domain), "TXT", value, ttl)))
    records.append(
        MailRecord("DMARC", Record(f"_dmarc.{domain}", "TXT", (dmarc_value(settings),), ttl))
    )
    if sts:
        records.append(
            MailRecord(
                "MTA-STS", Record(f"_mta-sts.{domain}", "TXT", (mta_sts_value(settings),), ttl)
            )
        )
    records.append(
        MailRecord("TLS-RPT", Record(f"_smtp._tls.{domain}", "TXT", (tlsrpt_value(settings),), ttl))
    )
    return records
