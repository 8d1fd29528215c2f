"""Terminal output for tasks: progress lines, and user errors as one line with exit 1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from invoke.exceptions import Exit
from rich.console import Console

from provision.errors import MailshError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def progress(message: str) -> None:
    """One progress line on stderr, so stdout stays clean for --json and summaries."""
    err.print(f"[dim]·[/dim] {message}", soft_wrap=True)


@contextmanager
def user_errors(debug: bool = False) -> Iterator[None]:
    """A MailshError ends the task with one line on stderr and exit 1; a traceback only
    with --debug (or MAILSH_DEBUG=1), where it would mean a bug of ours."""
    try:
        yield
    except MailshError as e:
        if debug or os.environ.get("MAILSH_DEBUG"):
            raise
        raise Exit(f"mailsh: {e}", code=e.exit_code) from None
    except KeyboardInterrupt:
        raise Exit("mailsh: interrupted", code=130) from None
