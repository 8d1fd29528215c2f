"""Read, diff, apply: from current and desired records to the updates to send.

`plan_changes` is pure; `read_current` and `send_changes` are the calls that
touch the provider. One run sends one update whose prerequisites are the values
read; when the zone changed in between, it is read again and the update retried
once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from provision.dns.provider import DnsProvider, Record, RecordType, Slot, ZoneChanged
from provision.dns.records import MailRecord

Progress = Callable[[str], None]
ATTEMPTS = 2


class RecordAction(StrEnum):
    """What a run does to one (name, type) of the zone."""

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
    action: RecordAction
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
        action = RecordAction.UNCHANGED
    elif not old_ours:
        action = RecordAction.ADDED
    elif not rec.values:
        action = RecordAction.REMOVED
    else:
        action = RecordAction.CHANGED
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


@dataclass(frozen=True)
class Sent:
    """What `send_changes` did: the plan it settled on, the changes sent, the attempts."""

    changes: list[Change]
    sent: list[Change]
    attempts: int


def pending(changes: Sequence[Change]) -> list[Change]:
    return [c for c in changes if c.action != RecordAction.UNCHANGED]


def send_changes(provider: DnsProvider, desired: Sequence[MailRecord], progress: Progress) -> Sent:
    """Read, diff and apply in one update conditioned on what was read; when the zone
    changed in between, read again and retry once. With nothing to change, the
    provider proves its credentials instead, so a refused key is noticed on every run."""
    for attempt in range(1, ATTEMPTS + 1):
        current = read_current(provider, desired)
        changes = plan_changes(desired, current)
        todo = pending(changes)
        if not todo:
            provider.authenticate()
            return Sent(changes, [], attempt)
        try:
            provider.apply([c.record for c in todo], current)
        except ZoneChanged as e:
            if attempt == ATTEMPTS:
                raise ZoneChanged(
                    f"{e.message}, twice in a row", hint="something else is editing the zone"
                ) from e
            progress(f"{e.message}: reading it again")
            continue
        return Sent(changes, todo, attempt)
    raise AssertionError("unreachable")
