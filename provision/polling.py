"""Bounded waits: ask until there is an answer or the time is up (a container's health,
a reply in a mailbox, DNS answers), and try again a call that failed for a passing reason.

The callers say what was still missing; `clock` and `sleep` are parameters so tests
need not wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(
    ask: Callable[[], T | None],
    timeout: float,
    interval: float,
    timed_out: Callable[[], Exception],
    *,
    waiting: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """The first answer of `ask` other than None. It is asked at once, then every `interval`
    seconds; when `timeout` seconds have passed without an answer, `timed_out()` is raised.
    `waiting(elapsed)` runs after each unanswered ask that is not the last."""
    start = clock()
    while True:
        answer = ask()
        if answer is not None:
            return answer
        elapsed = clock() - start
        if elapsed >= timeout:
            raise timed_out()
        if waiting is not None:
            waiting(elapsed)
        sleep(interval)


def retry(
    call: Callable[[], T],
    attempts: int,
    retry_on: type[Exception],
    *,
    delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call`, tried up to `attempts` times while it raises `retry_on`: `delay` seconds
    before the second try, twice as long before each next one. The last failure is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except retry_on:
            if attempt >= attempts:
                raise
        sleep(delay)
        delay *= 2
    raise ValueError(f"attempts must be at least 1, not {attempts}")
