"""Replies: built as plain EmailMessages (pure), sent through the local postfix.

A reply is read on a phone: the body starts with the command's output, then stderr
(marked), the exit status and the time, what was not run of the mail, and the
marker line above which the next command goes. A stream too long to show whole goes
to an attachment, its first lines inline. Parts are 7-bit (quoted-printable or
base64), so an OpenPGP signature over them survives any relay.
"""

from __future__ import annotations

import secrets
import smtplib
from collections.abc import Callable, Sequence
from email import policy as email_policy
from email.encoders import encode_7or8bit
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.utils import formatdate, make_msgid
from typing import TypeVar

from mailsh_server.command import Cut
from mailsh_server.message import Envelope
from mailsh_server.protocol import (
    EXIT_HEADER,
    HIDDEN_SUBJECT,
    NEXT_COMMAND_MARKER,
    REFUSED_PREFIX,
    RESULT_HEADER,
    STDERR_LINES_HEADER,
    STDERR_MARK,
    STDERR_PART,
    STDOUT_LINES_HEADER,
    STDOUT_PART,
)
from mailsh_server.run import Captured, RunResult

LOCAL_SMTP = "127.0.0.1"
INLINE_OUTPUT_BYTES = 16 * 1024
HEAD_LINES = 20
HEAD_LINE_CHARS = 300
POLICY = email_policy.SMTP
TEXT_CTE = "quoted-printable"  # 7-bit, and still readable as it is
_T = TypeVar("_T")


def _subject(original: str) -> str:
    return original if original.lower().startswith("re:") else f"Re: {original}".rstrip()


def _base(envelope: Envelope, sender: str, to: str, result: str) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = _subject(envelope.subject or "mailsh request")
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    if envelope.message_id:
        msg["In-Reply-To"] = envelope.message_id
        refs = f"{envelope.references} {envelope.message_id}" if envelope.references else None
        msg["References"] = refs or envelope.message_id
    msg["Auto-Submitted"] = "auto-replied"
    msg[RESULT_HEADER] = result
    return msg


def serialized(msg: EmailMessage, write: Callable[[EmailMessage], _T]) -> _T:
    """`write(msg)`; when what the reply took from the request (Subject, In-Reply-To,
    References) cannot be written, the same reply without it. The request is answered
    whatever its headers hold (`envelope_of` already keeps them inert: a safety net)."""
    try:
        return write(msg)
    except RuntimeError:  # gpg's, signing or encrypting: not the headers'
        raise
    except Exception:  # any failure of the email package on hostile header text
        for name in ("In-Reply-To", "References"):
            del msg[name]
        msg.replace_header("Subject", _subject("mailsh request"))
        return write(msg)


def stream_text(name: str, captured: Captured) -> str:
    """A stream as text (one line end: LF), with the notice when max_output_bytes cut it."""
    text = captured.data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    if captured.truncated:
        text += (
            ("" if text.endswith("\n") or not text else "\n")
            + f"[mailsh: {name} truncated: {captured.total} bytes, "
            f"first {len(captured.data)} shown (max_output_bytes)]\n"
        )
    return text


def _lines(text: str) -> list[str]:
    return text.removesuffix("\n").split("\n") if text else []


def _inline(name: str, text: str, limit: int) -> tuple[list[str], str | None]:
    """The lines shown in the body, and a note when the whole stream is attached."""
    lines = _lines(text)
    if len(text.encode()) <= limit:
        return lines, None
    head = [line[:HEAD_LINE_CHARS] for line in lines[:HEAD_LINES]]
    note = (
        f"[mailsh: {name} has {len(lines)} lines ({len(text.encode())} bytes): the first "
        f"{len(head)} above, all of it in {STDOUT_PART if name == 'stdout' else STDERR_PART}]"
    )
    return head, note


def _status_line(run: RunResult) -> str:
    if run.timed_out:
        return (
            f"timed out after {run.duration_s:.1f} s (timeout_s): killed with its children, "
            f"exit status {run.exit_status}"
        )
    return f"exit status {run.exit_status} · {run.duration_s:.2f} s"


def cut_notes(cuts: Sequence[Cut]) -> list[str]:
    """What of the mail did not run, one line per rule."""
    if not cuts:
        return []
    return ["Not run (added by your mail client):", *(f"  {c.describe()}" for c in cuts)]


def result_reply(
    envelope: Envelope,
    sender: str,
    to: str,
    run: RunResult,
    cuts: Sequence[Cut] = (),
    inline_bytes: int = INLINE_OUTPUT_BYTES,
) -> EmailMessage:
    """The output first, stderr marked, then exit status and time, then what was cut."""
    msg = _base(envelope, sender, to, "timeout" if run.timed_out else "done")
    msg[EXIT_HEADER] = str(run.exit_status)
    stdout = stream_text("stdout", run.stdout)
    stderr = stream_text("stderr", run.stderr)
    out_lines, out_note = _inline("stdout", stdout, inline_bytes)
    err_lines, err_note = _inline("stderr", stderr, inline_bytes)
    msg[STDOUT_LINES_HEADER] = str(len(out_lines))
    msg[STDERR_LINES_HEADER] = str(len(err_lines))
    body = [*out_lines, *([out_note] if out_note else [])]
    if stderr:
        body += [STDERR_MARK, *err_lines, *([err_note] if err_note else [])]
    body += [*([""] if body else []), _status_line(run), *cut_notes(cuts)]
    msg.set_content("\n".join([*body, "", NEXT_COMMAND_MARKER]) + "\n", cte=TEXT_CTE)
    for name, text, note in (("stdout", stdout, out_note), ("stderr", stderr, err_note)):
        if note:
            filename = STDOUT_PART if name == "stdout" else STDERR_PART
            # As bytes: base64 of exactly the stream (a text part would gain a line end).
            msg.add_attachment(
                text.encode(),
                maintype="text",
                subtype="plain",
                filename=filename,
                params={"charset": "utf-8"},
            )
    return msg


def notice_reply(envelope: Envelope, sender: str, to: str, result: str, text: str) -> EmailMessage:
    """A refusal or an "interrupted" notice: one line of why, and the marker."""
    msg = _base(envelope, sender, to, result)
    msg.set_content(f"{text.rstrip()}\n\n{NEXT_COMMAND_MARKER}\n", cte=TEXT_CTE)
    return msg


def refusal_text(reason: str) -> str:
    return f"{REFUSED_PREFIX}{reason}\nNothing was executed."


def notice_reply_like(reply: EmailMessage, text: str) -> EmailMessage:
    """A plain notice with the headers of a reply that cannot be sent as built."""
    msg = EmailMessage(policy=POLICY)
    for name, value in reply.items():
        if not name.lower().startswith("content-") and name.lower() != "mime-version":
            msg[name] = value
    msg.replace_header(RESULT_HEADER, "withheld")
    msg.set_content(text.rstrip() + "\n", cte=TEXT_CTE)
    return msg


# Headers an encrypted reply shows outside: routing and threading only. The
# subject, the result and the exit status travel inside, as protected headers.
OUTER_HEADERS = ("From", "To", "Date", "Message-ID", "In-Reply-To", "References", "Auto-Submitted")


def encrypted_reply(msg: EmailMessage, encrypt: Callable[[bytes], bytes]) -> Message:
    """The reply as PGP/MIME `multipart/encrypted` (RFC 3156) whose outer headers say
    nothing about the command or its result; those are protected headers inside."""
    inner = Message()
    for name, value in msg.items():
        if name.lower() != "mime-version":
            inner[name] = value
    inner.set_param("protected-headers", "v1")
    inner.set_payload(msg.get_payload())
    sealed = encrypt(inner.as_bytes())
    outer = MIMEMultipart("encrypted", protocol="application/pgp-encrypted")
    for name in OUTER_HEADERS:
        if msg[name] is not None:
            outer[name] = msg[name]
    outer["Subject"] = HIDDEN_SUBJECT
    control = MIMEApplication(b"Version: 1\n", "pgp-encrypted", _encoder=encode_7or8bit)
    body = MIMEApplication(sealed, "octet-stream", _encoder=encode_7or8bit, name="encrypted.asc")
    outer.attach(control)
    outer.attach(body)
    return outer


# Headers a signed reply repeats inside the signed part (protected headers, "v1"), so
# that a client shows them as verified.
PROTECTED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    RESULT_HEADER,
    EXIT_HEADER,
    STDOUT_LINES_HEADER,
    STDERR_LINES_HEADER,
)


def signed_reply(msg: EmailMessage, sign: Callable[[bytes], tuple[bytes, str]]) -> bytes:
    """The reply as PGP/MIME `multipart/signed` (RFC 3156 §5): the signed part is exactly
    the bytes sent (CRLF, 7-bit), so any RFC 3156 client verifies it.

    `sign(data)` returns an armored detached signature and its micalg (pgp-sha256)."""
    inner = Message(policy=POLICY)
    for name, value in msg.items():
        lower = name.lower()
        if lower.startswith("content-") or name in PROTECTED_HEADERS:
            inner[name] = value
    inner.set_param("protected-headers", "v1")
    inner.set_payload(msg.get_payload())
    entity = inner.as_bytes(policy=POLICY)
    signature, micalg = sign(entity)
    boundary = f"mailsh-signed-{secrets.token_hex(12)}"
    while boundary.encode() in entity:
        boundary = f"mailsh-signed-{secrets.token_hex(12)}"
    content_type = (
        f'multipart/signed; micalg="{micalg}"; protocol="application/pgp-signature"; '
        f'boundary="{boundary}"'
    )
    outer = [
        (name, value)
        for name, value in msg.items()
        if not name.lower().startswith("content-") and name.lower() != "mime-version"
    ]
    outer += [("MIME-Version", "1.0"), ("Content-Type", content_type)]
    head = b"".join(POLICY.fold_binary(name, value) for name, value in outer)
    delimiter = f"--{boundary}".encode()
    armored = signature.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return b"".join(
        [
            head + b"\r\n",
            b"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n",
            delimiter + b"\r\n",
            entity,
            b"\r\n" + delimiter + b"\r\n",
            b'Content-Type: application/pgp-signature; name="signature.asc"\r\n'
            b"Content-Description: OpenPGP digital signature\r\n"
            b'Content-Disposition: attachment; filename="signature.asc"\r\n\r\n',
            armored.rstrip(b"\r\n") + b"\r\n",
            delimiter + b"--\r\n",
        ]
    )


class Outbox:
    """Hands replies to the local postfix over SMTP (opendkim signs them on the way out).

    The envelope sender is null, as RFC 3834 asks of automatic replies: a
    bounce can never loop back into the request handler. SMTP on 127.0.0.1
    rather than sendmail(1): postfix's single pickup process would queue a
    burst of replies one by one. One connection serves every reply of a
    handler child: connecting, the greeting and EHLO cost as much as handing
    over the reply. A connection found closed before a reply (NOOP) is
    replaced; a failure during one is not retried here: the request stays
    queued in postfix and its journaled reply goes out on the retry.
    """

    def __init__(self, host: str = LOCAL_SMTP, port: int = 25) -> None:
        self.host, self.port = host, port
        self._smtp: smtplib.SMTP | None = None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        self._smtp = smtplib.SMTP(self.host, self.port, timeout=60)
        return self._smtp

    def send(self, message: bytes, to: str) -> None:
        smtp = self._connection()
        try:
            smtp.sendmail("", [to], message)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
