"""`invoke dkim-rotate`: a new selector, published, signing once every authoritative server
answers it; the old one stays published for a grace period (see provision/dkim.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from provision.config import Settings
from provision.dkim import (
    DEFAULT_GRACE,
    dkim_key,
    load_selectors,
    save_selectors,
    start_rotation,
    switch_signing,
)
from provision.dns.authoritative import make_rdata
from provision.dns.propagation import authoritative_servers, wait_for_records
from provision.dns.provider import DnsProvider, Record
from provision.dns.publish import update_dns
from provision.dns.records import dkim_name
from provision.dns.registry import capabilities, make_provider
from provision.errors import DnsError, MailshError
from provision.state import StateDir

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Rotation:
    old: str
    new: str
    remove_after: dt.datetime
    waited_s: float


def rotate_dkim(
    settings: Settings,
    environ: Mapping[str, str],
    progress: Progress,
    grace: dt.timedelta = DEFAULT_GRACE,
    provider: DnsProvider | None = None,
    now: dt.datetime | None = None,
) -> Rotation:
    """Make (or resume) the pending selector, publish it, wait until every authoritative
    server answers it, then make it the signing one. The caller reloads the container."""
    caps = provider.capabilities if provider else capabilities(settings)
    if caps.single_txt:
        raise MailshError(
            f"dns.provider = {settings.dns.provider!r} holds one TXT value for every name: "
            "the old DKIM key could not stay published while the new one signs",
            hint="rotate by hand at a quiet time, or move the domain to an rfc2136 host",
        )
    now = now or dt.datetime.now(dt.UTC)
    state = StateDir(settings.state_dir.resolve())
    selectors = start_rotation(
        load_selectors(state, settings.dkim.selector), settings.dkim.selector, now
    )
    new = selectors.pending
    assert new is not None
    key = dkim_key(state, new, settings.dkim.bits, progress)
    save_selectors(state, selectors)
    record = Record(dkim_name(new, settings.domain), "TXT", (key.txt_value,), settings.dns.ttl)
    provider = provider or make_provider(settings, environ)
    if provider is not None:
        progress(f"publishing DKIM selector {new} beside {selectors.signing}")
        update_dns(settings, environ, progress, provider=provider, now=now)
    try:
        servers = authoritative_servers(record.name, settings.dns.nameservers)
        progress(f"waiting until {len(servers)} authoritative server(s) answer {record.name}")
        waited = wait_for_records([record], servers, settings.dns.propagation_timeout_s, progress)
    except DnsError as e:
        if provider is not None:
            raise
        line = f"{record.name}. {record.ttl} IN TXT {make_rdata('TXT', key.txt_value).to_text()}"
        raise MailshError(
            f"DKIM selector {new} is not published yet ({e.message})",
            hint=f"add this record to the zone, then run `invoke dkim-rotate` again: {line}",
        ) from None
    rotated = switch_signing(selectors, now, grace)
    save_selectors(state, rotated)
    return Rotation(selectors.signing, new, rotated.retired[selectors.signing], waited)
