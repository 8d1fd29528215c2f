"""The LMTP side of the resident handler (RFC 2033): postfix's `lmtp` client hands it requests.

Only the framing is done here: commands in lock-step (no PIPELINING), the
DATA section read up to its lone dot with dot-unstuffing, and one reply per
recipient once the request is handled. The message is neither parsed nor
changed here: each line's CRLF becomes LF, which gives the handler the very
bytes postfix's pipe transport used to write. postfix keeps the message
queued until it reads a 2xx reply; a 4xx reply or a dropped connection makes
it retry later.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BufferedIOBase

MAX_LINE = 4096  # a command line
MAX_DATA_LINE = 1 << 20  # a longer DATA line is read in pieces (postfix folds at 998 anyway)

# (exit status, reason) for one message, as `handler.handle_message` returns it.
Deliver = Callable[[bytes], tuple[int, str]]


def read_data(rfile: BufferedIOBase, limit: int) -> bytes | None:
    """The DATA section up to the lone dot; None when the connection ends before it.

    Lines are unstuffed and end in LF; at most `limit` bytes are kept (the rest is
    read and dropped, so the handler sees an oversized message and refuses it)."""
    kept = bytearray()
    while True:
        line = rfile.readline(MAX_DATA_LINE)
        if not line:
            return None
        if line in (b".\r\n", b".\n"):
            return bytes(kept)
        if line.startswith(b"."):
            line = line[1:]
        if line.endswith(b"\r\n"):
            line = line[:-2] + b"\n"
        if len(kept) < limit:
            kept += line[: limit - len(kept)]


def reply_for(code: int, reason: str) -> bytes:
    """The per-recipient reply to DATA for a handler exit status (0 or 75)."""
    text = " ".join(reason.split())[:400]
    if code == 0:
        return f"250 2.0.0 {text}\r\n".encode()
    return f"451 4.3.0 {text}\r\n".encode()


def serve(
    rfile: BufferedIOBase,
    wfile: BufferedIOBase,
    deliver: Deliver,
    limit: int,
    name: str,
    answered: Callable[[], bool] = lambda: True,
) -> int:
    """One LMTP connection, until QUIT or EOF; how many messages were handled.

    `answered` runs after each answer has gone out; when it returns False the
    connection ends there (postfix opens a new one for the next message)."""

    def say(text: str) -> None:
        wfile.write(text.encode() + b"\r\n")
        wfile.flush()

    say(f"220 {name} LMTP mailsh")
    recipients = 0
    sender = False
    handled = 0
    while True:
        line = rfile.readline(MAX_LINE)
        if not line:
            return handled
        verb = line.split(b" ", 1)[0].strip().upper()
        if verb == b"LHLO":
            say(f"250-{name}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES")
        elif verb == b"MAIL":
            sender, recipients = True, 0
            say("250 2.1.0 OK")
        elif verb == b"RCPT":
            if not sender:
                say("503 5.5.1 MAIL first")
                continue
            recipients += 1
            say("250 2.1.5 OK")
        elif verb == b"DATA":
            if not recipients:
                say("503 5.5.1 RCPT first")
                continue
            say("354 3.0.0 end data with <CR><LF>.<CR><LF>")
            raw = read_data(rfile, limit)
            if raw is None:
                return handled
            answer = reply_for(*deliver(raw))
            wfile.write(answer * recipients)
            wfile.flush()
            handled += 1
            if not answered():
                return handled
            sender, recipients = False, 0
        elif verb == b"RSET":
            sender, recipients = False, 0
            say("250 2.0.0 OK")
        elif verb == b"NOOP":
            say("250 2.0.0 OK")
        elif verb == b"QUIT":
            say("221 2.0.0 bye")
            return handled
        else:
            say("502 5.5.2 command not recognized")
