"""Terminal output for tasks: progress lines, user errors as one line with exit 1, and the
flags every task spells the same way."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from invoke.exceptions import Exit
from invoke.tasks import Task
from invoke.tasks import task as invoke_task
from rich.console import Console
from rich.text import Text

from provision.errors import MailshError


def console(file: IO[str] | None = None, stderr: bool = False, width: int | None = None) -> Console:
    """A console that prints text as it is: no markup is read in it (paths, banners,
    errors and `[::1]:2525` hold brackets); styled words are `Text` spans."""
    return Console(file=file, stderr=stderr, width=width, highlight=False, markup=False)


out = console()
err = console(stderr=True)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line of plain strings and (text, style) pairs."""
    return Text.assemble(*parts)


def progress(message: str) -> None:
    """One progress line on stderr, so stdout stays clean for --json and summaries."""
    err.print(styled(("·", "dim"), f" {message}"), soft_wrap=True)


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


# The only short flags, the same in every task that has the option.
SHORT_FLAGS = {"config": "c", "debug": "d", "json": "j"}


class MailshTask(Task[Any]):
    """An invoke task whose short flags are SHORT_FLAGS, none made up from option names."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        if name in SHORT_FLAGS:
            opts["names"].append(SHORT_FLAGS[name])
        return opts


def task(**options: Any) -> Callable[[Callable[..., None]], MailshTask]:
    """`invoke.task` with mailsh's flags (MailshTask)."""
    decorate: Callable[[Callable[..., None]], MailshTask] = invoke_task(
        klass=MailshTask, auto_shortflags=False, **options
    )
    return decorate
