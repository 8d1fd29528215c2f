"""The `manual` provider: a BIND zone-file fragment of every record, for the user to add."""

from __future__ import annotations

from collections.abc import Sequence

from provision.dns.authoritative import make_rdata
from provision.dns.records import MailRecord


def zone_fragment(records: Sequence[MailRecord]) -> str:
    """Records in zone-file syntax (absolute names); those that must not exist as comments."""
    width = max(len(r.record.name) for r in records) + 1
    lines = ["; mailsh: add these records to your zone"]
    for m in records:
        rec = m.record
        owner = f"{rec.name}.".ljust(width)
        if not rec.values:
            lines.append(f"; {owner} no {rec.rtype} record ({m.kind}: remove it if present)")
            continue
        if m.shared_prefix:
            lines.append(f"; {m.kind}: replaces any other {m.shared_prefix} value at {rec.name}")
        for value in rec.values:
            rdata = make_rdata(rec.rtype, value).to_text()
            lines.append(f"{owner} {rec.ttl} IN {rec.rtype:<4} {rdata}")
    return "\n".join(lines) + "\n"
