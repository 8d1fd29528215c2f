"""Read the local-mode reply mailbox (mailsh-replies) for `invoke send --wait`.

It prints the first reply to the Message-ID in $MAILSH_IN_REPLY_TO, or `--in-reply-to`
(waiting up to `--timeout`). `invoke send` uses the environment: a process's arguments
are readable by every user of the container, a command's included, which could mail a
forged reply to a Message-ID it saw there. (The round-trip benchmark times replies with
a watcher of its own, `benchmarks/mailbox_watch.py`.)
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import sys
import time
from email import message_from_bytes
from pathlib import Path

from mailsh_server.protocol import IN_REPLY_TO_ENV

MAILBOX = Path("/var/mail/mailsh-replies")
_FROM_LINE = re.compile(rb"^From \S+ ", re.M)


def split_mbox(data: bytes) -> list[bytes]:
    """Complete messages of an mbox (postfix ends each with an empty line)."""
    starts = [m.start() for m in _FROM_LINE.finditer(data)]
    messages = []
    for begin, end in itertools.pairwise([*starts, len(data)]) if starts else ():
        chunk = data[begin:end]
        if end == len(data) and not chunk.endswith(b"\n\n"):
            break  # still being written
        messages.append(chunk.split(b"\n", 1)[1])
    return messages


def in_reply_to(message: bytes) -> str:
    header = message_from_bytes(message).get("In-Reply-To")
    return " ".join(str(header).split()) if header else ""


def find_reply(mailbox: Path, message_id: str) -> bytes | None:
    if not mailbox.exists():
        return None
    for message in split_mbox(mailbox.read_bytes()):
        if in_reply_to(message) == message_id:
            return message
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--in-reply-to", default=os.environ.get(IN_REPLY_TO_ENV))
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    if not args.in_reply_to:
        parser.error(f"give the Message-ID in ${IN_REPLY_TO_ENV} or --in-reply-to")
    deadline = time.monotonic() + args.timeout
    seen = -1  # the mailbox's size when last read: it is read again only once it grew
    while time.monotonic() < deadline:
        size = MAILBOX.stat().st_size if MAILBOX.exists() else 0
        if size != seen:
            seen = size
            reply = find_reply(MAILBOX, args.in_reply_to)
            if reply is not None:
                sys.stdout.buffer.write(reply)
                return 0
        time.sleep(0.05)
    print(f"no reply to {args.in_reply_to} after {args.timeout:g} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
