"""Replies: built as plain EmailMessages (pure), sent through the local postfix."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.encoders import encode_7or8bit
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.utils import formatdate, make_msgid

from mailsh_server.message import Envelope
from mailsh_server.protocol import EXIT_HEADER, HIDDEN_SUBJECT, RESULT_HEADER
from mailsh_server.run import Captured, RunResult

LOCAL_SMTP = "127.0.0.1"


def _subject(original: str) -> str:
    return original if original.lower().startswith("re:") else f"Re: {original}".rstrip()


def _base(envelope: Envelope, sender: str, to: str, result: str) -> EmailMessage:
    msg = EmailMessage()
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


def _stream_text(name: str, captured: Captured) -> str:
    text = captured.data.decode("utf-8", "replace")
    if captured.truncated:
        text += (
            f"\n[mailsh: {name} truncated: {captured.total} bytes, "
            f"first {len(captured.data)} shown (max_output_bytes)]\n"
        )
    return text


def result_reply(envelope: Envelope, sender: str, to: str, run: RunResult) -> EmailMessage:
    """Exit status, duration, stdout and stderr (as inline text parts, named for clients)."""
    msg = _base(envelope, sender, to, "timeout" if run.timed_out else "done")
    msg[EXIT_HEADER] = str(run.exit_status)
    summary = [f"exit status: {run.exit_status}", f"duration: {run.duration_s:.3f} s"]
    if run.timed_out:
        summary.append("the command ran past timeout_s and was killed with its children")
    for name, captured in (("stdout", run.stdout), ("stderr", run.stderr)):
        summary.append(
            f"{name}: {captured.total} bytes" + (" (truncated)" if captured.truncated else "")
        )
    msg.set_content("\n".join(summary) + "\n")
    for name, captured in (("stdout", run.stdout), ("stderr", run.stderr)):
        msg.add_attachment(
            _stream_text(name, captured),
            subtype="plain",
            disposition="inline",
            filename=f"{name}.txt",
        )
    return msg


def notice_reply(envelope: Envelope, sender: str, to: str, result: str, text: str) -> EmailMessage:
    """A refusal or an "interrupted" notice: one line of why."""
    msg = _base(envelope, sender, to, result)
    msg.set_content(text.rstrip() + "\n")
    return msg


def notice_reply_like(reply: EmailMessage, text: str) -> EmailMessage:
    """A plain notice with the headers of a reply that cannot be sent as built."""
    msg = EmailMessage()
    for name, value in reply.items():
        if not name.lower().startswith("content-") and name.lower() != "mime-version":
            msg[name] = value
    msg.replace_header(RESULT_HEADER, "withheld")
    msg.set_content(text.rstrip() + "\n")
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


def send(message: bytes, to: str) -> None:
    """Hand a reply to the local postfix over SMTP (opendkim signs it on the way out).

    The envelope sender is null, as RFC 3834 asks of automatic replies: a
    bounce can never loop back into the request handler. SMTP on 127.0.0.1
    rather than sendmail(1): postfix's single pickup process would queue a
    burst of replies one by one.
    """
    with smtplib.SMTP(LOCAL_SMTP, 25, timeout=60) as smtp:
        smtp.sendmail("", [to], message)
