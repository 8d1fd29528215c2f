"""Read, diff, apply: from current and desired records to the updates to send.

`plan_changes` is pure; `read_current` and `apply_changes` are the two calls
that touch the provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from provision.dns.provider import DnsProvider, Record, RecordType
from provision.dns.records import MailRecord

Slot = tuple[str, RecordType]


class Action(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Change:
    """One (name, type): its values now (`old`) and the full set to write (`new`)."""

    kind: str
    name: str
    rtype: RecordType
    action: Action
    old: tuple[str, ...]
    new: tuple[str, ...]
    ttl: int = 300

    @property
    def record(self) -> Record:
        return Record(self.name, self.rtype, self.new, self.ttl)


def _ours(values: Sequence[str], prefix: str | None) -> tuple[str, ...]:
    return tuple(v for v in values if prefix is None or v.startswith(prefix))


def plan_change(desired: MailRecord, current: tuple[str, ...]) -> Change | None:
    """The change for one record, or None when it should be absent and is."""
    rec, prefix = desired.record, desired.shared_prefix
    old_ours = _ours(current, prefix)
    kept = tuple(v for v in current if v not in old_ours)
    new = tuple(sorted({*kept, *rec.values}))
    old = tuple(sorted(current))
    if not old_ours and not rec.values:
        return None
    if sorted(old_ours) == sorted(set(rec.values)):
        action = Action.UNCHANGED
    elif not old_ours:
        action = Action.ADDED
    elif not rec.values:
        action = Action.REMOVED
    else:
        action = Action.CHANGED
    return Change(desired.kind, rec.name, rec.rtype, action, old, new, rec.ttl)


def plan_changes(
    desired: Sequence[MailRecord], current: Mapping[Slot, tuple[str, ...]]
) -> list[Change]:
    """Compare each desired record with the current values of its (name, type)."""
    changes = []
    for d in desired:
        change = plan_change(d, current.get((d.record.name, d.record.rtype), ()))
        if change is not None:
            changes.append(change)
    return changes


def read_current(
    provider: DnsProvider, desired: Sequence[MailRecord]
) -> dict[Slot, tuple[str, ...]]:
    slots = dict.fromkeys((d.record.name, d.record.rtype) for d in desired)
    return {slot: provider.read(*slot) for slot in slots}


def apply_changes(provider: DnsProvider, changes: Sequence[Change]) -> list[Change]:
    """Send the updates (nothing for unchanged records); returns the changes sent."""
    sent = []
    for change in changes:
        if change.action == Action.UNCHANGED:
            continue
        if change.new:
            provider.set(change.record)
        else:
            provider.delete(change.name, change.rtype)
        sent.append(change)
    return sent
