"""Bounds on the work one request mail can cause before (and after) it is trusted."""

from __future__ import annotations

import resource
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# A handler child parses at most one 4 MiB mail at a time, and gpg runs in a
# process of its own: far below this unless a mail is built to explode.
CHILD_MEMORY = 768 * 2**20
# A child serves up to 50 requests in turn: one that grew past this (memory a hostile
# mail made it map and not give back) serves no more, so that no request after it
# starts short of CHILD_MEMORY.
RECYCLE_AT = CHILD_MEMORY // 4
PARSE_BUDGET_S = 10.0


class BudgetExceeded(Exception):
    """Parsing a request took longer than any honest mail needs."""


def limit_child_memory(limit: int = CHILD_MEMORY) -> None:
    """Cap a forked handler child's address space (soft limit: a MemoryError, not a kill).

    The hard limit stays, so the commands it starts can be given their own limits.
    """
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def may_serve_more(limit: int = RECYCLE_AT) -> bool:
    """Whether this handler child's address space is still small enough for another request."""
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * resource.getpagesize()
    return size < limit


@contextmanager
def time_budget(seconds: float = PARSE_BUDGET_S) -> Iterator[None]:
    """Raise `BudgetExceeded` in the block after `seconds` (main thread only; else unbounded)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise BudgetExceeded(f"more than {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
