"""Every check, in report order: name (for --only/--skip), area, function."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from provision.deliverability import (
    dkim_check,
    dmarc_check,
    dns_records,
    dnsbl,
    duckdns_check,
    end_to_end,
    mta_sts_check,
    smtp_checks,
    spf_check,
    tls_check,
)
from provision.deliverability.result import CheckResult
from provision.deliverability.runner import Check, run_checks, select_checks
from provision.deliverability.target import Target

CHECKS: tuple[Check, ...] = (
    Check("a-record", "dns", dns_records.check_a, "A of the hostname is [dns] ip"),
    Check("aaaa-record", "dns", dns_records.check_aaaa, "AAAA of the hostname is [dns] ipv6"),
    Check("mx", "dns", dns_records.check_mx, "MX of the domain names the hostname"),
    Check("ptr", "dns", dns_records.check_ptr, "PTR of the IP forward-confirms to the hostname"),
    Check("smtp-banner", "dns", smtp_checks.check_banner, "the SMTP greeting names the hostname"),
    Check("duckdns", "dns", duckdns_check.check_duckdns, "no single-TXT (DuckDNS) situation"),
    Check("spf", "spf", spf_check.check_spf, "one valid SPF record authorizing the IP"),
    Check("spf-helo", "spf", spf_check.check_spf_helo, "the HELO name's SPF (null sender)"),
    Check("dkim", "dkim", dkim_check.check_dkim, "the DKIM record is the state's key"),
    Check("dmarc", "dmarc", dmarc_check.check_dmarc, "one DMARC record with a policy"),
    Check("mta-sts", "mta-sts", mta_sts_check.check_mta_sts, "the MTA-STS record and policy"),
    Check("tls-rpt", "mta-sts", mta_sts_check.check_tlsrpt, "the TLS-RPT record"),
    Check("tls-smtp", "tls", tls_check.check_tls_smtp, "STARTTLS certificate on port 25"),
    Check("tls-https", "tls", tls_check.check_tls_https, "HTTPS certificate on port 443"),
    Check("dnsbl", "dnsbl", dnsbl.check_dnsbl, "the IP is on no blocklist"),
    Check("open-relay", "smtp", smtp_checks.check_open_relay, "relaying is refused"),
    Check("outbound-25", "smtp", smtp_checks.check_outbound_25, "port 25 reachable outbound"),
    Check("relay-host", "smtp", smtp_checks.check_relay_host, "the [relay] smarthost answers"),
    Check("end-to-end", "e2e", end_to_end.check_end_to_end, "signed echo, receiver's verdicts"),
)


@dataclass(frozen=True)
class Report:
    results: list[CheckResult]
    elapsed_s: float


def check_deliverability(
    target: Target,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    checks: Sequence[Check] = CHECKS,
) -> Report:
    """Run the selected checks against `target`; each gets twice the target's timeout plus a
    margin, and the reply timeout too when an end-to-end probe is sent."""
    chosen = select_checks(checks, only, skip)
    start = time.perf_counter()
    deadline = target.timeout_s * 2 + 1
    if target.send_probe is not None:
        deadline += target.reply_timeout_s
    results = run_checks(chosen, target, deadline_s=deadline)
    return Report(results, time.perf_counter() - start)
