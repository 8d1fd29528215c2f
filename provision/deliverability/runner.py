"""Run checks concurrently, each within a deadline, and select them by name."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import dns.exception

from provision.deliverability.result import CheckResult, Outcome, Status
from provision.deliverability.target import Target
from provision.errors import MailshError

# What a check may raise when the outside world misbehaves: it becomes an ERROR
# result. Anything else is a bug of ours and propagates.
CHECK_ERRORS = (MailshError, OSError, dns.exception.DNSException, smtplib.SMTPException)


RETRY = "make sure the server and the resolvers answer, then run the check again"


@dataclass(frozen=True)
class Check:
    name: str
    area: str
    run: Callable[[Target], Outcome]
    description: str


def select_checks(
    checks: Sequence[Check], only: Sequence[str] = (), skip: Sequence[str] = ()
) -> list[Check]:
    """The checks named by --only (all when empty) minus those named by --skip. A name is a
    check's name, else an area's (`spf` is the check, `dns` the area)."""
    names = {c.name for c in checks}
    areas = {c.area for c in checks}
    unknown = [n for n in (*only, *skip) if n not in names | areas]
    if unknown:
        raise MailshError(
            f"unknown check {unknown[0]!r}",
            hint="known checks: " + ", ".join(c.name for c in checks),
        )

    def named(check: Check, given: Sequence[str]) -> bool:
        return check.name in given or any(g == check.area and g not in names for g in given)

    return [c for c in checks if (not only or named(c, only)) and not named(c, skip)]


def _run_one(check: Check, target: Target) -> tuple[Outcome, float]:
    start = time.perf_counter()
    try:
        outcome = check.run(target)
    except ssl.SSLError as e:
        outcome = Outcome(Status.ERROR, f"TLS failed: {e.reason or e}", "a TLS handshake", RETRY)
    except CHECK_ERRORS as e:
        hint = e.hint if isinstance(e, MailshError) and e.hint else ""
        message = e.message if isinstance(e, MailshError) else str(e) or type(e).__name__
        outcome = Outcome(Status.ERROR, message, "the check to run", hint or RETRY)
    return outcome, (time.perf_counter() - start) * 1000


def run_checks(checks: Sequence[Check], target: Target, deadline_s: float) -> list[CheckResult]:
    """Run every check in its own thread; one that has not answered by the deadline is an
    ERROR (its thread ends on its own socket timeout)."""
    pool = ThreadPoolExecutor(max_workers=max(1, len(checks)), thread_name_prefix="check")
    futures: list[tuple[Check, Future[tuple[Outcome, float]]]] = [
        (c, pool.submit(_run_one, c, target)) for c in checks
    ]
    end = time.monotonic() + deadline_s
    results = []
    for check, future in futures:
        try:
            outcome, ms = future.result(timeout=max(0.0, end - time.monotonic()))
        except FutureTimeout:
            outcome = Outcome(
                Status.ERROR,
                f"no result within {deadline_s:.1f} s",
                "an answer",
                "check the address and firewall, or raise [deliverability] timeout_s",
            )
            ms = deadline_s * 1000
        results.append(
            CheckResult(
                check.name,
                check.area,
                outcome.status,
                outcome.observed,
                outcome.expected,
                outcome.fix,
                round(ms, 1),
            )
        )
    pool.shutdown(wait=False, cancel_futures=True)
    return results
