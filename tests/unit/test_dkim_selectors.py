from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from provision.dkim import (
    PENDING_KEY,
    DkimSelectors,
    describe,
    load_selectors,
    parse_duration,
    record_values,
    remove_expired,
    save_selectors,
    start_rotation,
    switch_signing,
)
from provision.errors import MailshError
from provision.state import StateDir, ensure_dkim_key

NOW = dt.datetime(2026, 10, 24, 12, 0, tzinfo=dt.UTC)
WEEK = dt.timedelta(days=7)


def test_before_any_rotation_the_configured_selector_signs(tmp_path: Path) -> None:
    assert load_selectors(StateDir(tmp_path), "mail") == DkimSelectors("mail")


def test_rotation_names_a_new_selector_after_the_configured_one_and_the_day() -> None:
    assert start_rotation(DkimSelectors("mail"), "mail", NOW).pending == "mail-20261024"


def test_a_second_rotation_the_same_day_gets_its_own_name() -> None:
    retired = {"mail-20261024": NOW + WEEK, "mail": NOW + WEEK}
    selectors = DkimSelectors("mail-20261024-2", None, retired)
    assert start_rotation(selectors, "mail", NOW).pending == "mail-20261024-3"


def test_an_interrupted_rotation_resumes_with_the_same_pending_selector() -> None:
    pending = start_rotation(DkimSelectors("mail"), "mail", NOW)
    assert start_rotation(pending, "mail", NOW + WEEK) == pending


def test_before_the_switch_both_selectors_are_published_and_the_old_one_signs() -> None:
    pending = start_rotation(DkimSelectors("mail"), "mail", NOW)
    assert pending.signing == "mail"
    assert pending.published(NOW) == ["mail", "mail-20261024"]


def test_after_the_switch_the_old_selector_stays_published_for_the_grace_period() -> None:
    rotated = switch_signing(start_rotation(DkimSelectors("mail"), "mail", NOW), NOW, WEEK)
    assert rotated.signing == "mail-20261024"
    assert rotated.published(NOW + WEEK - dt.timedelta(seconds=1)) == ["mail-20261024", "mail"]
    assert rotated.expired(NOW + WEEK) == ["mail"]
    assert rotated.published(NOW + WEEK) == ["mail-20261024"]


def test_expired_selector_gets_a_record_that_must_be_absent(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    selectors = DkimSelectors("new", None, {"old": NOW})
    values = record_values(state, selectors, 1024, NOW, lambda _: None)
    assert [(v.selector, v.value is None) for v in values] == [("new", False), ("old", True)]


def test_without_create_a_missing_key_is_shown_as_to_be_generated(tmp_path: Path) -> None:
    values = record_values(StateDir(tmp_path), DkimSelectors("mail"), 1024, NOW, print, False)
    assert [v.value for v in values] == [PENDING_KEY]
    assert list(tmp_path.iterdir()) == []


def test_selectors_survive_a_save_and_load(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    selectors = DkimSelectors("b", "c", {"a": NOW})
    save_selectors(state, selectors)
    assert load_selectors(state, "mail") == selectors


def test_removing_an_expired_selector_forgets_it_and_deletes_its_key(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    ensure_dkim_key(state, "old", 1024)
    selectors = DkimSelectors("new", None, {"old": NOW})
    remove_expired(state, selectors, ["old"])
    assert load_selectors(state, "mail") == DkimSelectors("new")
    assert not state.dkim_key_file("old").exists()


def test_status_lines_name_each_selector_and_its_role() -> None:
    selectors = DkimSelectors("b", None, {"a": NOW + WEEK})
    assert describe(selectors, NOW) == [
        "b signs",
        "a retired, published until 2026-10-31 12:00 UTC",
    ]


@pytest.mark.parametrize(
    ("text", "delta"),
    [("7d", WEEK), ("12h", dt.timedelta(hours=12)), ("1.5s", dt.timedelta(seconds=1.5))],
)
def test_grace_durations_take_a_unit(text: str, delta: dt.timedelta) -> None:
    assert parse_duration(text) == delta


def test_a_grace_without_unit_is_refused_with_an_example() -> None:
    with pytest.raises(MailshError, match="'7' is not a duration"):
        parse_duration("7")
