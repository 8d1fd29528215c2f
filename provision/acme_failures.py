"""ACME failures as MailshErrors: the shared client's AcmeProblems (mailsh_acme.failures)
become one-line user errors with their hint."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mailsh_acme.failures import AcmeProblem
from provision.errors import MailshError


class AcmeError(MailshError):
    """The ACME server was unreachable, refused a request or a challenge."""


@contextmanager
def as_acme_errors() -> Iterator[None]:
    """Calls into mailsh_acme: its AcmeProblems become AcmeErrors."""
    try:
        yield
    except AcmeProblem as e:
        raise AcmeError(e.message, e.hint) from e
