from __future__ import annotations

from collections.abc import Sequence

from provision.dns.changes import Action, apply_changes, plan_change, plan_changes
from provision.dns.provider import Record, RecordType, Unpublishable, all_publishable
from provision.dns.records import MailRecord

SPF = MailRecord("SPF", Record("example.org", "TXT", ("v=spf1 a mx -all",)), "v=spf1")
MX = MailRecord("MX", Record("example.org", "MX", ("10 mail.example.org.",)))
NO_AAAA = MailRecord("AAAA", Record("mail.example.org", "AAAA", ()))


def test_missing_record_is_added() -> None:
    change = plan_change(MX, ())
    assert change is not None and change.action == Action.ADDED
    assert change.new == ("10 mail.example.org.",)


def test_equal_record_is_unchanged() -> None:
    change = plan_change(MX, ("10 mail.example.org.",))
    assert change is not None and change.action == Action.UNCHANGED


def test_different_record_is_changed() -> None:
    change = plan_change(MX, ("10 old.example.org.",))
    assert change is not None and change.action == Action.CHANGED
    assert change.old == ("10 old.example.org.",)


def test_record_that_must_not_exist_is_removed() -> None:
    change = plan_change(NO_AAAA, ("2001:db8::1",))
    assert change is not None and change.action == Action.REMOVED and change.new == ()


def test_absent_record_that_must_be_absent_needs_no_change() -> None:
    assert plan_change(NO_AAAA, ()) is None


def test_spf_keeps_other_txt_values_at_the_apex() -> None:
    change = plan_change(SPF, ("google-site-verification=abc", "v=spf1 -all"))
    assert change is not None and change.action == Action.CHANGED
    assert change.new == ("google-site-verification=abc", "v=spf1 a mx -all")


def test_spf_is_added_next_to_other_txt_values() -> None:
    change = plan_change(SPF, ("google-site-verification=abc",))
    assert change is not None and change.action == Action.ADDED


def test_spf_among_other_values_is_unchanged() -> None:
    change = plan_change(SPF, ("v=spf1 a mx -all", "other"))
    assert change is not None and change.action == Action.UNCHANGED


class RecordingProvider:
    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, RecordType]] = []

    def publishable(self, records: Sequence[Record]) -> tuple[list[Record], list[Unpublishable]]:
        return all_publishable(records)

    def read(self, name: str, rtype: RecordType) -> tuple[str, ...]:
        return ()

    def set(self, record: Record) -> None:
        self.calls.append(("set", record.name, record.rtype))

    def delete(self, name: str, rtype: RecordType) -> None:
        self.calls.append(("delete", name, rtype))


def test_apply_sends_nothing_for_unchanged_records() -> None:
    changes = plan_changes(
        [MX, NO_AAAA, SPF],
        {
            ("example.org", "MX"): ("10 mail.example.org.",),
            ("mail.example.org", "AAAA"): ("2001:db8::1",),
        },
    )
    provider = RecordingProvider()
    sent = apply_changes(provider, changes)
    assert provider.calls == [
        ("delete", "mail.example.org", "AAAA"),
        ("set", "example.org", "TXT"),
    ]
    assert [c.kind for c in sent] == ["AAAA", "SPF"]
