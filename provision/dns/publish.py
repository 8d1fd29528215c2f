"""`invoke dns-update`: compute the records, read what is published, show the diff,
apply it, then wait until the authoritative servers answer the new values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from provision.config import Settings
from provision.dns.changes import Action, Change, apply_changes, plan_changes, read_current
from provision.dns.duckdns import DuckDnsProvider
from provision.dns.manual import zone_fragment
from provision.dns.propagation import authoritative_servers, wait_for_records
from provision.dns.provider import DnsProvider, Unpublishable
from provision.dns.records import MailRecord, desired_records
from provision.dns.rfc2136 import Rfc2136Provider
from provision.state import DkimKey, StateDir, ensure_dkim_key

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DnsReport:
    """What dns-update found and did. `zone_fragment` is set when nothing is published
    through an API (provider "manual", or `invoke provision` without `[dns] auto`)."""

    provider: str
    records: list[MailRecord]
    changes: list[Change] = field(default_factory=list)
    unpublishable: list[Unpublishable] = field(default_factory=list)
    dry_run: bool = False
    sent: list[Change] = field(default_factory=list)
    waited_s: float | None = None
    zone_fragment: str | None = None


def dkim_key(settings: Settings, progress: Progress) -> DkimKey:
    """The selector's DKIM key from the state dir (generated once, then always reused)."""
    state = StateDir(settings.state_dir.resolve())
    state.ensure()
    key, generated = ensure_dkim_key(state, settings.dkim.selector, settings.dkim.bits)
    if generated:
        progress(f"generated DKIM key {settings.dkim.selector} ({settings.dkim.bits} bits)")
    return key


def make_provider(settings: Settings, environ: Mapping[str, str]) -> DnsProvider | None:
    """The configured provider (None for "manual"); secrets are read from `environ`."""
    dns = settings.dns
    if dns.provider == "rfc2136":
        assert dns.rfc2136 is not None  # checked when the config was loaded
        return Rfc2136Provider.from_settings(dns.rfc2136, settings.domain, environ)
    if dns.provider == "duckdns":
        servers = authoritative_servers(settings.domain, dns.nameservers) if dns.nameservers else ()
        return DuckDnsProvider.from_settings(dns.duckdns, settings.domain, environ, servers)
    return None


def update_dns(
    settings: Settings,
    dkim: DkimKey,
    environ: Mapping[str, str],
    progress: Progress,
    dry_run: bool = False,
    provider: DnsProvider | None = None,
) -> DnsReport:
    """Publish the desired records through the provider (read, diff, apply, wait)."""
    records = desired_records(settings, dkim)
    provider = provider or make_provider(settings, environ)
    if provider is None:
        return DnsReport("manual", records, zone_fragment=zone_fragment(records))
    publishable, dropped = provider.publishable([m.record for m in records])
    kept = [m for m in records if m.record in publishable]
    progress(f"reading {len(kept)} record(s) through {provider.name}")
    changes = plan_changes(kept, read_current(provider, kept))
    report = DnsReport(provider.name, records, changes, dropped, dry_run)
    if dry_run:
        return report
    sent = apply_changes(provider, changes)
    waited = None
    timeout = settings.dns.propagation_timeout_s
    if sent and timeout > 0:
        servers = authoritative_servers(sent[0].name, settings.dns.nameservers)
        progress(f"sent {len(sent)} update(s); waiting for {len(servers)} authoritative server(s)")
        waited = wait_for_records([c.record for c in sent], servers, timeout, progress)
    return DnsReport(provider.name, records, changes, dropped, False, sent, waited)


def records_to_publish(settings: Settings, dkim: DkimKey) -> DnsReport:
    """The records as a zone fragment, publishing nothing (`invoke provision` by default)."""
    records = desired_records(settings, dkim)
    return DnsReport(settings.dns.provider, records, zone_fragment=zone_fragment(records))


def provision_dns(
    settings: Settings, dkim: DkimKey, environ: Mapping[str, str], progress: Progress
) -> DnsReport:
    """For `invoke provision`: publish with `[dns] auto` and a provider, else show."""
    if settings.dns.auto and settings.dns.provider != "manual":
        return update_dns(settings, dkim, environ, progress)
    return records_to_publish(settings, dkim)


_MARK = {Action.ADDED: "+", Action.CHANGED: "~", Action.REMOVED: "-", Action.UNCHANGED: "="}


def _short(values: tuple[str, ...], width: int = 60) -> str:
    text = " | ".join(values) or "(none)"
    return text if len(text) <= width else text[: width - 1] + "…"


def report_lines(report: DnsReport) -> list[str]:
    """The report as plain lines for the terminal."""
    note = []
    if not any(m.kind == "A" for m in report.records):
        note = ["; [dns] ip is not set: address records (A/AAAA) are left as they are"]
    if report.zone_fragment is not None:
        return report.zone_fragment.rstrip("\n").splitlines() + note
    lines = [n.lstrip("; ") for n in note]
    for c in report.changes:
        line = f"{_MARK[c.action]} {c.action.value:<9} {c.kind:<8} {c.name} {c.rtype}"
        if c.action == Action.CHANGED:
            line += f": {_short(c.old)} -> {_short(c.new)}"
        elif c.action != Action.UNCHANGED:
            line += f": {_short(c.new if c.new else c.old)}"
        lines.append(line)
    for u in report.unpublishable:
        lines.append(f"! not published {u.record.name} {u.record.rtype}: {u.reason}")
    counts = {a: sum(c.action == a for c in report.changes) for a in Action}
    summary = ", ".join(f"{n} {a.value}" for a, n in counts.items() if n)
    if report.dry_run:
        lines.append(f"dry run, nothing changed ({summary or 'no records'})")
    elif report.sent:
        waited = f", answered after {report.waited_s:.1f} s" if report.waited_s is not None else ""
        lines.append(f"{report.provider}: {summary}{waited}")
    else:
        lines.append(f"{report.provider}: everything unchanged, no update sent")
    return lines
