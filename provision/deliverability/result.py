"""What a check finds: a status, what it saw, what it wanted, and the one-line fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"  # the check itself could not run (timeout, refused query)
    SKIP = "skip"  # does not apply to this configuration


# Worst first: the order in which statuses decide a combined outcome.
SEVERITY = (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)
FAILING = frozenset({Status.FAIL, Status.ERROR})


@dataclass(frozen=True)
class Outcome:
    """What one check function returns."""

    status: Status
    observed: str
    expected: str
    fix: str = ""


@dataclass(frozen=True)
class CheckResult:
    """An outcome with the check's name and area, as reported."""

    name: str
    area: str
    status: Status
    observed: str
    expected: str
    fix: str
    duration_ms: float


def passed(observed: str, expected: str) -> Outcome:
    return Outcome(Status.PASS, observed, expected)


def worst(statuses: Iterable[Status]) -> Status:
    present = set(statuses)
    return next((s for s in SEVERITY if s in present), Status.PASS)


@dataclass(frozen=True)
class Problem:
    """One thing wrong within a check that looks at several aspects."""

    status: Status
    what: str
    fix: str


def combine(problems: list[Problem], observed: str, expected: str) -> Outcome:
    """The outcome of a multi-aspect check: the worst status; every problem and fix, worst first."""
    if not problems:
        return passed(observed, expected)
    ordered = sorted(problems, key=lambda p: SEVERITY.index(p.status))
    what = "; ".join(p.what for p in ordered)
    fix = "; ".join(dict.fromkeys(p.fix for p in ordered if p.fix))
    return Outcome(ordered[0].status, f"{observed} ({what})" if observed else what, expected, fix)


def exit_code(results: Iterable[CheckResult]) -> int:
    """0 when nothing failed (warnings allowed), 1 otherwise: what CI gates on."""
    return 1 if any(r.status in FAILING for r in results) else 0
