"""ACME failures as one-line sentences: certbot's `acme` and `requests` exceptions become
AcmeProblems that say what failed, where, and (from the CA's problem document) why."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import josepy as jose
import requests
from acme import errors as acme_errors
from acme import messages


class AcmeProblem(Exception):
    """The ACME server was unreachable, refused a request or a challenge."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


@contextmanager
def acme_failures(action: str, directory: str) -> Iterator[None]:
    """Turn the library's and requests' exceptions into one-line AcmeProblems."""
    try:
        yield
    except requests.exceptions.SSLError as e:
        raise AcmeProblem(
            f"{action}: TLS verification of {directory} failed ({_first_line(e)})",
            hint="set [acme] ca_bundle to the CA of a test server such as Pebble",
        ) from e
    except requests.exceptions.RequestException as e:
        raise AcmeProblem(
            f"{action}: cannot reach the ACME server {directory} ({_first_line(e)})",
            hint="check [acme] directory and the network",
        ) from e
    except acme_errors.ValidationError as e:
        raise AcmeProblem(f"{action}: {_validation_problems(e.failed_authzrs)}") from e
    except acme_errors.TimeoutError as e:
        raise AcmeProblem(f"{action}: the ACME server did not finish in time") from e
    except acme_errors.IssuanceError as e:
        raise AcmeProblem(
            f"{action}: the ACME server refused the order: {_problem(e.error)}"
        ) from e
    except messages.Error as e:
        raise AcmeProblem(f"{action}: the ACME server refused: {_problem(e)}") from e
    except (acme_errors.Error, jose.errors.Error) as e:
        raise AcmeProblem(f"{action}: unexpected answer from {directory}: {e}") from e


_OS_REASON = re.compile(r"\[Errno -?\d+\] ([^'\"()\]]+)")
_TLS_REASON = re.compile(r"(certificate verify failed: [^'\"()\]]+|wrong version number)")


def _first_line(e: BaseException) -> str:
    """The cause in a few words: requests nests it in long reprs of urllib3 objects."""
    text = str(e)
    for pattern in (_TLS_REASON, _OS_REASON):
        found = pattern.search(text)
        if found:
            return found.group(1).strip().lower()
    if isinstance(e, requests.exceptions.Timeout):
        return "timed out"
    return text.splitlines()[0][:160] if text else type(e).__name__


def _problem(error: messages.Error) -> str:
    return str(error.detail or error.description or error.typ)


def _validation_problems(authzs: list[messages.AuthorizationResource]) -> str:
    problems = []
    for authz in authzs:
        for challb in authz.body.challenges:
            if challb.error is not None:
                problems.append(f"{authz.body.identifier.value}: {_problem(challb.error)}")
    return "challenge refused: " + "; ".join(problems or ["no reason given"])
