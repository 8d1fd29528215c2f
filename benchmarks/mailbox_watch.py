"""Runs inside the server's container: prints `<unix time> <In-Reply-To>` per reply.

The round-trip benchmark passes this file's text to `python3 -c` in the
container, where it follows the local-mode reply mailbox (mailsh-replies)
and timestamps each reply the moment postfix has appended it (container and
host share one clock). Standard library only, and independent of the server's
code, so that a baseline image of an older commit is timed the same way. It
waits on inotify: polling every 2 ms cost the container about 4 ms of CPU
per reply, which a burst then lacked.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import re
import select
import sys
import time
from collections.abc import Iterator
from pathlib import Path

MAILBOX = Path("/var/mail/mailsh-replies")
IN_MODIFY, IN_CREATE, IN_MOVED_TO = 0x2, 0x100, 0x80
_FROM_LINE = re.compile(rb"^From \S+ ", re.M)
_IN_REPLY_TO = re.compile(rb"^In-Reply-To:[ \t]*(.*(?:\n[ \t].*)*)", re.M | re.I)


def changes(directory: Path) -> int:
    """An inotify descriptor that becomes readable when a file in `directory` changes."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = int(libc.inotify_init1(os.O_CLOEXEC))
    mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO
    if fd < 0 or libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
        raise OSError(ctypes.get_errno(), f"inotify on {directory}")
    return fd


def complete_messages(data: bytes) -> list[bytes]:
    """The complete messages at the start of `data` (postfix ends each with an empty line)."""
    starts = [m.start() for m in _FROM_LINE.finditer(data)] + [len(data)]
    out = []
    for begin, end in itertools.pairwise(starts):
        chunk = data[begin:end]
        if end == len(data) and not chunk.endswith(b"\n\n"):
            break  # still being written
        out.append(chunk)
    return out


def follow(mailbox: Path, offset: int | None = None) -> Iterator[tuple[float, bytes]]:
    """Each message appended to `mailbox` after `offset` (default: its end when the
    generator first runs), with the time it was complete."""
    fd = changes(mailbox.parent)
    if offset is None:
        offset = mailbox.stat().st_size if mailbox.exists() else 0
    while True:
        size = mailbox.stat().st_size if mailbox.exists() else 0
        messages: list[bytes] = []
        if size > offset:
            with mailbox.open("rb") as f:
                f.seek(offset)
                messages = complete_messages(f.read())
        now = time.time()
        for message in messages:
            offset += len(message)
            yield now, message
        if not messages and select.select([fd], [], [], 1.0)[0]:
            os.read(fd, 65536)


def in_reply_to(message: bytes) -> str:
    header = _IN_REPLY_TO.search(message.split(b"\n\n", 1)[0])
    return " ".join(header[1].decode(errors="replace").split()) if header else ""


def main() -> int:
    for when, message in follow(MAILBOX):
        print(f"{when:.6f} {in_reply_to(message)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
