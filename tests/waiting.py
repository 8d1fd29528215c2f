"""Waiting in tests: for a condition, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None],
    timeout: float,
    failure: str | Callable[[], str],
    pause: float = 0.2,
) -> T:
    """Call `check` until it returns something true, and return that; after `timeout`
    seconds fail with `failure` (or what it returns: the last state seen)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            message = failure if isinstance(failure, str) else failure()
            raise AssertionError(f"{message} (waited {timeout:g} s)")
        time.sleep(pause)
