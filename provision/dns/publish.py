"""`invoke dns-update`: compute the records, read what is published, show the diff,
apply it, then wait until the authoritative servers answer the new values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from provision.config import Settings
from provision.dkim import load_selectors, record_values, remove_expired
from provision.dns.changes import Change, RecordAction, plan_changes, read_current, send_changes
from provision.dns.manual import zone_fragment
from provision.dns.propagation import authoritative_servers, wait_for_records
from provision.dns.provider import DnsProvider, Record, Unpublishable
from provision.dns.records import MailRecord, desired_records
from provision.dns.registry import capabilities, make_provider
from provision.state import StateDir

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
    attempts: int = 1


def mail_records(
    settings: Settings,
    progress: Progress,
    create: bool = True,
    provider: DnsProvider | None = None,
    now: dt.datetime | None = None,
) -> list[MailRecord]:
    """The records for the settings and the DKIM selectors in use. With `create` false
    nothing is written: a DKIM key not generated yet is shown as to be generated."""
    state = StateDir(settings.state_dir.resolve())
    selectors = load_selectors(state, settings.dkim.selector)
    now = now or dt.datetime.now(dt.UTC)
    dkim = record_values(state, selectors, settings.dkim.bits, now, progress, create)
    caps = provider.capabilities if provider else capabilities(settings)
    return desired_records(settings, dkim, caps)


def update_dns(
    settings: Settings,
    environ: Mapping[str, str],
    progress: Progress,
    dry_run: bool = False,
    provider: DnsProvider | None = None,
    now: dt.datetime | None = None,
) -> DnsReport:
    """Publish the desired records through the provider (read, diff, apply, wait); a dry
    run reads and proves the credentials, and writes nothing anywhere."""
    provider = provider or make_provider(settings, environ)
    now = now or dt.datetime.now(dt.UTC)
    records = mail_records(settings, progress, not dry_run, provider, now)
    name = provider.name if provider else settings.dns.provider
    if provider is None:
        return DnsReport(name, records, dry_run=dry_run, zone_fragment=zone_fragment(records))
    publishable, dropped = provider.publishable([m.record for m in records])
    kept = [m for m in records if m.record in publishable]
    progress(f"reading {len(kept)} record(s) through {provider.name}")
    if dry_run:
        changes = plan_changes(kept, read_current(provider, kept))
        provider.authenticate()
        return DnsReport(name, records, changes, dropped, dry_run=True)
    outcome = send_changes(provider, kept, progress)
    waited = None
    timeout = settings.dns.propagation_timeout_s
    if outcome.sent and timeout > 0:
        servers = authoritative_servers(outcome.sent[0].name, settings.dns.nameservers)
        progress(f"sent {len(outcome.sent)} change(s); waiting for {len(servers)} server(s)")
        waited = wait_for_records([c.record for c in outcome.sent], servers, timeout, progress)
    # The zone now holds exactly the desired records: expired selectors are gone from it.
    state = StateDir(settings.state_dir.resolve())
    selectors = load_selectors(state, settings.dkim.selector)
    remove_expired(state, selectors, selectors.expired(now))
    return DnsReport(
        name, records, outcome.changes, dropped, False, outcome.sent, waited, None, outcome.attempts
    )


def provision_dns(settings: Settings, environ: Mapping[str, str], progress: Progress) -> DnsReport:
    """For `invoke provision`: publish with `[dns] auto` and a provider, else show the
    records (writing nothing)."""
    if settings.dns.auto and not capabilities(settings).manual:
        return update_dns(settings, environ, progress)
    records = mail_records(settings, progress, create=False)
    return DnsReport(settings.dns.provider, records, zone_fragment=zone_fragment(records))


MARK = {
    RecordAction.ADDED: "+",
    RecordAction.CHANGED: "~",
    RecordAction.REMOVED: "-",
    RecordAction.UNCHANGED: "=",
}


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
        line = f"{MARK[c.action]} {c.action.value:<9} {c.kind:<8} {c.name} {c.rtype}"
        if c.action == RecordAction.CHANGED:
            line += f": {_short(c.old)} -> {_short(c.new)}"
        elif c.action != RecordAction.UNCHANGED:
            line += f": {_short(c.new if c.new else c.old)}"
        lines.append(line)
    for u in report.unpublishable:
        lines.append(f"! not published {u.record.name} {u.record.rtype}: {u.reason}")
    counts = {a: sum(c.action == a for c in report.changes) for a in RecordAction}
    summary = ", ".join(f"{n} {a.value}" for a, n in counts.items() if n)
    if report.dry_run:
        lines.append(f"dry run, nothing changed ({summary or 'no records'}); credentials accepted")
    elif report.sent:
        waited = f", answered after {report.waited_s:.1f} s" if report.waited_s is not None else ""
        retried = ", retried once: the zone changed meanwhile" if report.attempts > 1 else ""
        lines.append(f"{report.provider}: {summary}{retried}{waited}")
    else:
        lines.append(
            f"{report.provider}: everything unchanged, no update sent; credentials accepted"
        )
    return lines


def _record_json(kind: str, record: Record) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": record.name,
        "type": record.rtype,
        "values": list(record.values),
        "ttl": record.ttl,
    }


def report_json(report: DnsReport) -> dict[str, Any]:
    """The report as `dns-update --json` prints it: the desired records, and (through a
    provider) each change with the values before and after, what was sent and waited."""
    return {
        "provider": report.provider,
        "dry_run": report.dry_run,
        "records": [_record_json(m.kind, m.record) for m in report.records],
        "changes": [
            {
                "action": c.action.value,
                "kind": c.kind,
                "name": c.name,
                "type": c.rtype,
                "old": list(c.old),
                "new": list(c.new),
            }
            for c in report.changes
        ],
        "unpublishable": [
            {"name": u.record.name, "type": u.record.rtype, "reason": u.reason}
            for u in report.unpublishable
        ],
        "sent": len(report.sent),
        "attempts": report.attempts,
        "waited_s": report.waited_s,
    }
