"""Waiting in tests: for a condition, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from docker.models.containers import Container

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


def wait_for_output(
    container: Container,
    cmd: list[str],
    needle: str,
    timeout: float = 60,
) -> str:
    """Run `cmd` in the container until its output contains `needle`; that output."""
    out = ""

    def output() -> str | None:
        nonlocal out
        out = container.exec_run(cmd).output.decode(errors="replace")
        return out if needle in out else None

    def missing() -> str:
        logs = container.logs(tail=40).decode(errors="replace")
        return f"{needle!r} never appeared in the output of {cmd}: {out[-500:]}\nlog:\n{logs}"

    return wait_until(output, timeout, missing, pause=0.3)
