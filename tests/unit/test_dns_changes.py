from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from provision.dns.changes import RecordAction, plan_change, send_changes
from provision.dns.provider import (
    Capabilities,
    Record,
    RecordType,
    Slot,
    Unpublishable,
    ZoneChanged,
    all_publishable,
)
from provision.dns.publish import DnsReport, report_json
from provision.dns.records import MailRecord

SPF = MailRecord("SPF", Record("example.org", "TXT", ("v=spf1 a mx -all",)), "v=spf1")
MX = MailRecord("MX", Record("example.org", "MX", ("10 mail.example.org.",)))
NO_AAAA = MailRecord("AAAA", Record("mail.example.org", "AAAA", ()))


def test_missing_record_is_added() -> None:
    change = plan_change(MX, ())
    assert change is not None and change.action == RecordAction.ADDED
    assert change.new == ("10 mail.example.org.",)


def test_equal_record_is_unchanged() -> None:
    change = plan_change(MX, ("10 mail.example.org.",))
    assert change is not None and change.action == RecordAction.UNCHANGED


def test_different_record_is_changed() -> None:
    change = plan_change(MX, ("10 old.example.org.",))
    assert change is not None and change.action == RecordAction.CHANGED
    assert change.old == ("10 old.example.org.",)


def test_record_that_must_not_exist_is_removed() -> None:
    change = plan_change(NO_AAAA, ("2001:db8::1",))
    assert change is not None and change.action == RecordAction.REMOVED and change.new == ()


def test_absent_record_that_must_be_absent_needs_no_change() -> None:
    assert plan_change(NO_AAAA, ()) is None


def test_spf_keeps_other_txt_values_at_the_apex() -> None:
    change = plan_change(SPF, ("google-site-verification=abc", "v=spf1 -all"))
    assert change is not None and change.action == RecordAction.CHANGED
    assert change.new == ("google-site-verification=abc", "v=spf1 a mx -all")


def test_spf_is_added_next_to_other_txt_values() -> None:
    change = plan_change(SPF, ("google-site-verification=abc",))
    assert change is not None and change.action == RecordAction.ADDED


def test_spf_among_other_values_is_unchanged() -> None:
    change = plan_change(SPF, ("v=spf1 a mx -all", "other"))
    assert change is not None and change.action == RecordAction.UNCHANGED


class ZoneProvider:
    """A zone in memory; `interfere` changes it once, between the read and the write."""

    name = "memory"
    capabilities = Capabilities(atomic=True)

    def __init__(self, zone: dict[Slot, tuple[str, ...]], interfere: int = 0) -> None:
        self.zone = dict(zone)
        self.interfere = interfere
        self.updates: list[tuple[list[Record], dict[Slot, tuple[str, ...]]]] = []
        self.authenticated = 0

    def publishable(self, records: Sequence[Record]) -> tuple[list[Record], list[Unpublishable]]:
        return all_publishable(records)

    def read(self, name: str, rtype: RecordType) -> tuple[str, ...]:
        return self.zone.get((name, rtype), ())

    def set(self, record: Record) -> None:
        self.apply([record], {})

    def delete(self, name: str, rtype: RecordType) -> None:
        self.apply([Record(name, rtype, ())], {})

    def apply(self, records: Sequence[Record], expected: Mapping[Slot, tuple[str, ...]]) -> None:
        self.updates.append((list(records), dict(expected)))
        if self.interfere:
            self.interfere -= 1
            self.zone[("example.org", "TXT")] = (f"site-verification={self.interfere}",)
        if any(self.zone.get(slot, ()) != values for slot, values in expected.items()):
            raise ZoneChanged("the zone changed")
        for r in records:
            self.zone[(r.name, r.rtype)] = r.values

    def authenticate(self) -> None:
        self.authenticated += 1


ZONE: dict[Slot, tuple[str, ...]] = {
    ("example.org", "MX"): ("10 mail.example.org.",),
    ("mail.example.org", "AAAA"): ("2001:db8::1",),
}


def test_one_update_carries_every_change_and_nothing_unchanged() -> None:
    provider = ZoneProvider(ZONE)
    sent = send_changes(provider, [MX, NO_AAAA, SPF], lambda _: None)
    [(records, _)] = provider.updates
    assert [(r.name, r.rtype, r.values) for r in records] == [
        ("mail.example.org", "AAAA", ()),
        ("example.org", "TXT", ("v=spf1 a mx -all",)),
    ]
    assert [c.kind for c in sent.sent] == ["AAAA", "SPF"]


def test_update_is_conditioned_on_every_value_read() -> None:
    provider = ZoneProvider(ZONE)
    send_changes(provider, [MX, NO_AAAA, SPF], lambda _: None)
    [(_, expected)] = provider.updates
    assert expected == {**ZONE, ("example.org", "TXT"): ()}


def test_zone_changed_between_read_and_write_is_read_again_and_retried_once() -> None:
    provider = ZoneProvider(ZONE, interfere=1)
    sent = send_changes(provider, [MX, NO_AAAA, SPF], lambda _: None)
    assert sent.attempts == 2
    assert provider.zone[("example.org", "TXT")] == ("site-verification=0", "v=spf1 a mx -all")


def test_zone_changed_twice_is_an_error_and_nothing_is_applied() -> None:
    provider = ZoneProvider(ZONE, interfere=2)
    with pytest.raises(ZoneChanged, match="twice in a row"):
        send_changes(provider, [MX, NO_AAAA, SPF], lambda _: None)
    assert provider.zone[("mail.example.org", "AAAA")] == ("2001:db8::1",)


def test_nothing_to_change_proves_the_credentials_instead() -> None:
    provider = ZoneProvider({("example.org", "MX"): ("10 mail.example.org.",)})
    sent = send_changes(provider, [MX], lambda _: None)
    assert provider.updates == [] and sent.sent == []
    assert provider.authenticated == 1


def test_the_json_report_gives_each_change_with_its_values_before_and_after() -> None:
    change = plan_change(SPF, ("v=spf1 mx -all", "google-site-verification=x"))
    assert change is not None
    report = report_json(DnsReport("rfc2136", [SPF], [change], dry_run=True))
    assert report["changes"] == [
        {
            "action": "changed",
            "kind": "SPF",
            "name": "example.org",
            "type": "TXT",
            "old": ["google-site-verification=x", "v=spf1 mx -all"],
            "new": ["google-site-verification=x", "v=spf1 a mx -all"],
        }
    ]
