"""Bounded waits and retries (container health, IMAP replies, DNS answers, DuckDNS calls)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provision.polling import poll, retry


class FakeTime:
    """A clock that moves only when something sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Late(Exception):
    pass


def _answers(*values: str | None) -> Iterator[str | None]:
    yield from values


def test_the_first_answer_is_returned_without_waiting() -> None:
    time = FakeTime()
    assert poll(lambda: "up", 5, 0.5, Late, clock=time.clock, sleep=time.sleep) == "up"
    assert time.sleeps == []


def test_asking_goes_on_every_interval_until_there_is_an_answer() -> None:
    time = FakeTime()
    answers = _answers(None, None, "up")
    assert poll(lambda: next(answers), 5, 0.5, Late, clock=time.clock, sleep=time.sleep) == "up"
    assert time.sleeps == [0.5, 0.5]


def test_no_answer_in_time_raises_what_the_caller_says() -> None:
    time = FakeTime()
    with pytest.raises(Late):
        poll(lambda: None, 2, 0.5, Late, clock=time.clock, sleep=time.sleep)
    assert time.now - 100.0 == 2


def test_waiting_is_told_the_elapsed_time_after_each_unanswered_ask() -> None:
    time, told = FakeTime(), []
    answers = _answers(None, None, "up")
    poll(lambda: next(answers), 5, 1, Late, waiting=told.append, clock=time.clock, sleep=time.sleep)
    assert told == [0.0, 1.0]


def test_a_passing_failure_is_tried_again_after_a_growing_delay() -> None:
    calls, sleeps = iter([Late(), Late(), "done"]), []

    def call() -> str:
        result = next(calls)
        if isinstance(result, Exception):
            raise result
        return result

    assert retry(call, 3, Late, sleep=sleeps.append) == "done"
    assert sleeps == [1.0, 2.0]


def test_the_last_failure_is_raised_once_every_attempt_failed() -> None:
    sleeps: list[float] = []

    def call() -> str:
        raise Late(len(sleeps))

    with pytest.raises(Late, match=r"^1$"):
        retry(call, 2, Late, sleep=sleeps.append)


def test_other_errors_are_not_tried_again() -> None:
    sleeps: list[float] = []

    def call() -> str:
        raise KeyError("no")

    with pytest.raises(KeyError):
        retry(call, 3, Late, sleep=sleeps.append)
    assert sleeps == []
