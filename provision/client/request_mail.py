"""Request mails in the four formats (ARCHITECTURE.md §4), built from signed bytes (pure).

Signing happens in `provision.client.send`; this module only places OpenPGP data
in a message the way the original tools (gpg + uuencode + mailx), `.asc`
attachments, clear-signing mailers and PGP/MIME clients (RFC 3156) do. Reading
the reply is `provision.client.replies`.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from email import policy
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from typing import Literal

from mailsh_server.protocol import BINDING_HEADER, REQUEST_ID_HEADER

Format = Literal["pgp-mime", "clearsign", "attachment", "uuencode"]
FORMATS: tuple[Format, ...] = ("pgp-mime", "clearsign", "attachment", "uuencode")
UU_LINE = 45


def uuencode(data: bytes, name: str, mode: str = "644") -> str:
    """What `uuencode NAME < data` prints (traditional encoding, backquote padding)."""
    lines = [f"begin {mode} {name}"]
    for i in range(0, len(data), UU_LINE):
        lines.append(binascii.b2a_uu(data[i : i + UU_LINE], backtick=True).decode().rstrip("\n"))
    lines += ["`", "end"]
    return "\n".join(lines) + "\n"


def _headers(msg: Message, sender: str, to: str, subject: str, domain: str) -> str:
    msg_id = make_msgid(domain=domain)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = msg_id
    return msg_id


def signed_body_part(command: str) -> MIMEText:
    """The MIME entity a PGP/MIME request signs: the command as a text/plain part."""
    part = MIMEText(command, "plain", "utf-8")
    del part["MIME-Version"]
    return part


def entity_bytes(part: Message) -> bytes:
    """Canonical bytes of a MIME entity as RFC 3156 signs them (CRLF line ends)."""
    return part.as_bytes(policy=policy.SMTP)


def pgp_mime_message(part: Message, signature: bytes, micalg: str) -> MIMEMultipart:
    outer = MIMEMultipart(
        "signed", micalg=micalg, protocol="application/pgp-signature", policy=policy.SMTP
    )
    outer.attach(part)
    sig = MIMEApplication(signature, "pgp-signature", _encoder=_noop, name="signature.asc")
    sig.replace_header("Content-Type", 'application/pgp-signature; name="signature.asc"')
    sig["Content-Description"] = "OpenPGP digital signature"
    sig["Content-Disposition"] = 'attachment; filename="signature.asc"'
    outer.attach(sig)
    return outer


def _noop(part: MIMEApplication) -> None:
    payload = part.get_payload(decode=False)
    part.set_payload(payload.decode() if isinstance(payload, bytes) else payload)
    part["Content-Transfer-Encoding"] = "7bit"


def encrypted_message(armored: bytes) -> MIMEMultipart:
    """PGP/MIME `multipart/encrypted` (RFC 3156 §4) around an armored OpenPGP message."""
    outer = MIMEMultipart("encrypted", protocol="application/pgp-encrypted")
    control = MIMEApplication(b"Version: 1\n", "pgp-encrypted", _encoder=_noop)
    body = MIMEApplication(armored, "octet-stream", _encoder=_noop, name="encrypted.asc")
    body["Content-Disposition"] = 'inline; filename="encrypted.asc"'
    outer.attach(control)
    outer.attach(body)
    return outer


def clearsign_message(clearsigned: bytes) -> EmailMessage:
    msg = EmailMessage()
    msg.set_content(clearsigned.decode(), cte="7bit" if clearsigned.isascii() else "8bit")
    return msg


def attachment_message(armored: bytes) -> EmailMessage:
    msg = EmailMessage()
    msg.set_content("mailsh request: the signed command is attached.\n")
    msg.add_attachment(
        armored, maintype="application", subtype="pgp-encrypted", filename="command.asc"
    )
    return msg


def uuencode_message(armored: bytes) -> EmailMessage:
    """The original: a plain body holding `uuencode cmd.asc` output, as mailx sends it."""
    msg = EmailMessage()
    msg.set_content(uuencode(armored, "cmd.asc"), cte="7bit")
    return msg


def address_message(msg: Message, sender: str, to: str, subject: str) -> tuple[Message, str]:
    domain = sender.rpartition("@")[2] or "localhost"
    return msg, _headers(msg, sender, to, subject, domain)


Signer = Callable[[bytes], bytes]


def build_request(
    fmt: Format,
    command: str,
    *,
    sign_opaque: Signer,
    clearsign: Signer,
    sign_detached: Callable[[bytes], tuple[bytes, str]],
) -> Message:
    """A request mail (without addresses) in format `fmt`, signed by the callables given."""
    if fmt == "pgp-mime":
        part = signed_body_part(command)
        signature, micalg = sign_detached(entity_bytes(part))
        return pgp_mime_message(part, signature, micalg)
    if fmt == "clearsign":
        return clearsign_message(clearsign(command.encode()))
    armored = sign_opaque(command.encode())
    return attachment_message(armored) if fmt == "attachment" else uuencode_message(armored)


def request_text(recipient: str, request_id: str, command: str) -> str:
    """The text `invoke send` signs: the server it is for, a random id (so the same
    command signed twice is two requests), then the command."""
    return f"{BINDING_HEADER}: {recipient}\n{REQUEST_ID_HEADER}: {request_id}\n{command}"
