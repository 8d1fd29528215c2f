"""Request mails for tests: good ones in every format, and the corpus of bad ones.

Every bad request carries `touch MARKER` somewhere, so a test can assert that
nothing ran. Built with real gpg signatures (tests/fixtures/gpg.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

from provision.client.request_mail import Format, build_request, encrypted_message, uuencode
from tests.fixtures.gpg import ALICE, GpgKeys

RECIPIENT = "root@mailsh.localdomain"


def address(msg: Message, sender: str = ALICE, subject: str = "mailsh request") -> bytes:
    msg["From"] = sender
    msg["To"] = RECIPIENT
    msg["Subject"] = subject
    msg["Date"] = formatdate()
    msg["Message-ID"] = make_msgid(domain="client.example")
    return msg.as_bytes()


def request(keys: GpgKeys, fmt: Format, command: str, key: str | None = None) -> bytes:
    """A well-formed request signed by `key` (default: alice)."""
    fpr = key or keys.alice

    def detached(data: bytes) -> tuple[bytes, str]:
        return keys.signer.sign(data, fpr, "detached"), "pgp-sha256"

    msg = build_request(
        fmt,
        command,
        sign_opaque=lambda d: keys.signer.sign(d, fpr, "opaque"),
        clearsign=lambda d: keys.signer.sign(d, fpr, "clearsign"),
        sign_detached=detached,
    )
    return address(msg)


def encrypted_request(keys: GpgKeys, command: str, subject: str | None = None) -> bytes:
    """A PGP/MIME signed request, encrypted to the server's key (RFC 3156 nested form);
    `subject` travels inside as a protected header, "..." outside."""

    def detached(data: bytes) -> tuple[bytes, str]:
        return keys.signer.sign(data, keys.alice, "detached"), "pgp-sha256"

    signed = build_request(
        "pgp-mime", command, sign_opaque=bytes, clearsign=bytes, sign_detached=detached
    )
    if subject is not None:
        signed["Subject"] = subject
        signed.set_param("protected-headers", "v1")
    sealed = keys.signer.run(
        "--armor",
        "--trust-model",
        "always",
        "--encrypt",
        "--recipient",
        keys.server_key,
        data=signed.as_bytes(policy=policy.SMTP),
    )
    outer = encrypted_message(sealed)
    return address(outer) if subject is None else address(outer, subject="...")


def plain(text: str, cte: str = "7bit") -> EmailMessage:
    """A text/plain mail body holding `text`."""
    msg = EmailMessage()
    msg.set_content(text, cte=cte)
    return msg


def _signed(keys: GpgKeys, command: str, **kw: object) -> bytes:
    return keys.signer.sign(command.encode(), keys.alice, "opaque", **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class BadRequest:
    name: str
    build: Callable[[GpgKeys, str], bytes]
    reason: str  # a substring of the logged reason


def _tampered_clearsign(keys: GpgKeys, marker: str) -> bytes:
    signed = keys.signer.sign(b"echo harmless\n", keys.alice, "clearsign").decode()
    return address(plain(signed.replace("echo harmless", f"touch {marker}")))


def _tampered_pgp_mime(keys: GpgKeys, marker: str) -> bytes:
    raw = request(keys, "pgp-mime", "echo harmless\n")
    honest = base64.b64encode(b"echo harmless\n")
    return raw.replace(honest, base64.b64encode(f"touch {marker}\n".encode()))


def _bad_signature(keys: GpgKeys, marker: str) -> bytes:
    armored = _signed(keys, f"touch {marker}\n")
    body = armored.split(b"\n\n", 1)
    lines = body[1].split(b"\n")
    flipped = bytearray(lines[2])
    flipped[10] = ord("A") if flipped[10] != ord("A") else ord("B")
    lines[2] = bytes(flipped)
    return address(plain((body[0] + b"\n\n" + b"\n".join(lines)).decode()))


def _signed_plus_unsigned_part(keys: GpgKeys, marker: str) -> bytes:
    outer = MIMEMultipart("mixed")
    outer.attach(MIMEText(f"touch {marker}\n"))
    outer.attach(MIMEText(keys.signer.sign(b"echo ok\n", keys.alice, "clearsign").decode()))
    return address(outer)


def _clearsign_surrounded(keys: GpgKeys, marker: str) -> bytes:
    signed = keys.signer.sign(b"echo ok\n", keys.alice, "clearsign").decode()
    return address(plain(f"touch {marker}\n{signed}touch {marker}\n"))


def _two_signed_blocks(keys: GpgKeys, marker: str) -> bytes:
    one = keys.signer.sign(f"touch {marker}\n".encode(), keys.alice, "clearsign").decode()
    two = keys.signer.sign(b"echo second\n", keys.alice, "clearsign").decode()
    return address(plain(one + two))


def _nested(keys: GpgKeys, marker: str, depth: int = 8) -> bytes:
    part: Message = MIMEText(
        keys.signer.sign(f"touch {marker}\n".encode(), keys.alice, "clearsign").decode()
    )
    for _ in range(depth):
        outer = MIMEMultipart("mixed")
        outer.attach(part)
        part = outer
    return address(part)


def _raw(headers: str, body: bytes) -> bytes:
    headers = f"Message-ID: {make_msgid(domain='client.example')}\n" + headers
    return headers.replace("\n", "\r\n").encode() + b"\r\n" + body


def _malformed_mime(keys: GpgKeys, marker: str) -> bytes:
    signed = keys.signer.sign(f"touch {marker}\n".encode(), keys.alice, "clearsign")
    head = (
        f"From: {ALICE}\nTo: {RECIPIENT}\nSubject: x\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="nowhere"\n'
    )
    return _raw(head, b"--elsewhere\r\n\r\n" + signed)


def _broken_base64(keys: GpgKeys, marker: str) -> bytes:
    armored = _signed(keys, f"touch {marker}\n")
    encoded = base64.encodebytes(armored)
    head = (
        f"From: {ALICE}\nTo: {RECIPIENT}\nSubject: x\nMIME-Version: 1.0\n"
        "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n"
    )
    return _raw(head, encoded[:40] + b"!!*%" + encoded[40:])


def _broken_uuencode(keys: GpgKeys, marker: str) -> bytes:
    text = uuencode(_signed(keys, f"touch {marker}\n"), "cmd.asc")
    lines = text.split("\n")
    lines[3] = "M" + "\x7f" * 60
    return address(plain("\n".join(lines)))


def _uuencode_without_end(keys: GpgKeys, marker: str) -> bytes:
    text = uuencode(_signed(keys, f"touch {marker}\n"), "cmd.asc")
    return address(plain(text.replace("\nend\n", "\n")))


def _non_utf8(keys: GpgKeys, marker: str) -> bytes:
    command = f"touch {marker} # caf\xe9\n".encode("latin-1")
    signed = keys.signer.sign(command, keys.alice, "opaque")
    return address(plain(signed.decode()))


def _future_dated(keys: GpgKeys, marker: str) -> bytes:
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    return address(plain(_signed(keys, f"touch {marker}\n", faked=future).decode()))


def _stale(keys: GpgKeys, marker: str) -> bytes:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    return address(plain(_signed(keys, f"touch {marker}\n", faked=past).decode()))


def _by(
    key: Callable[[GpgKeys], str], fmt: Format = "clearsign", **kw: object
) -> Callable[[GpgKeys, str], bytes]:
    def build(keys: GpgKeys, marker: str) -> bytes:
        return request(keys, fmt, f"touch {marker}\n", key(keys))

    return build


def _expired(keys: GpgKeys, marker: str) -> bytes:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=3) + dt.timedelta(hours=1)
    signed = keys.signer.sign(f"touch {marker}\n".encode(), keys.expired, "clearsign", faked=when)
    return address(plain(signed.decode()))


def _foreign_reply_to(keys: GpgKeys, marker: str) -> bytes:
    msg = plain(keys.signer.sign(f"touch {marker}\n".encode(), keys.alice, "clearsign").decode())
    msg["Reply-To"] = "victim@elsewhere.example"
    return address(msg)


def _from_not_on_key(keys: GpgKeys, marker: str) -> bytes:
    msg = plain(keys.signer.sign(f"touch {marker}\n".encode(), keys.alice, "clearsign").decode())
    return address(msg, sender="carol@client.example")


def _bound_elsewhere(keys: GpgKeys, marker: str) -> bytes:
    text = f"Mailsh-To: root@other.example\ntouch {marker}\n"
    return request(keys, "clearsign", text)


def _signature_only(keys: GpgKeys, marker: str) -> bytes:
    sig = keys.signer.sign(f"touch {marker}\n".encode(), keys.alice, "detached")
    return address(plain(f"touch {marker}\n\n{sig.decode()}"))


def _pgp_mime_wrong_protocol(keys: GpgKeys, marker: str) -> bytes:
    raw = request(keys, "pgp-mime", f"touch {marker}\n")
    return raw.replace(b'protocol="application/pgp-signature"', b'protocol="application/x-other"')


def _pgp_mime_three_parts(keys: GpgKeys, marker: str) -> bytes:
    raw = request(keys, "pgp-mime", "echo ok\n")
    boundary = re.search(rb'boundary="([^"]+)"', raw)
    assert boundary is not None
    b = boundary.group(1)
    extra = b"--" + b + b"\r\nContent-Type: text/plain\r\n\r\ntouch " + marker.encode() + b"\r\n"
    return raw.replace(b"--" + b + b"--", extra + b"--" + b + b"--")


BAD_REQUESTS = [
    BadRequest("unsigned", lambda k, m: address(plain(f"touch {m}\n")), "no signed command"),
    BadRequest("empty body", lambda k, m: address(plain("")), "no signed command"),
    BadRequest("empty message", lambda k, m: b"", "empty message"),
    BadRequest("headers only", lambda k, m: f"From: {ALICE}\n\n".encode(), "no signed command"),
    BadRequest("unknown key", lambda k, m: _signed_for(k, m, "unknown"), "no public key"),
    BadRequest("bad signature", _bad_signature, "could not read the data"),
    BadRequest("tampered clear-signed text", _tampered_clearsign, "bad signature"),
    BadRequest("tampered PGP/MIME body", _tampered_pgp_mime, "bad signature"),
    BadRequest(
        "untrusted primary key signing with its subkey",
        _by(lambda k: k.mallory_subkey),
        "is not a trusted key",
    ),
    BadRequest(
        "untrusted key signing PGP/MIME",
        _by(lambda k: k.mallory_subkey, "pgp-mime"),
        "is not a trusted key",
    ),
    BadRequest(
        "untrusted key, uuencoded",
        _by(lambda k: k.mallory_subkey, "uuencode"),
        "is not a trusted key",
    ),
    BadRequest("expired key", _expired, "expired"),
    BadRequest("revoked key", _by(lambda k: k.revoked), "revoked"),
    BadRequest("revoked key, attachment", _by(lambda k: k.revoked, "attachment"), "revoked"),
    BadRequest("stale signature", _stale, "old (max_age_s"),
    BadRequest("future-dated signature", _future_dated, "in the future"),
    BadRequest("signed part plus an unsigned part", _signed_plus_unsigned_part, "ran"),
    BadRequest("clear-signed block surrounded by unsigned commands", _clearsign_surrounded, "ran"),
    BadRequest("two signed blocks", _two_signed_blocks, "2 signed blocks"),
    BadRequest("nested multiparts", _nested, "nested deeper"),
    BadRequest("malformed MIME", _malformed_mime, "malformed MIME"),
    BadRequest("broken base64", _broken_base64, "broken base64"),
    BadRequest("broken uuencode", _broken_uuencode, "broken uuencode"),
    BadRequest("uuencode without end", _uuencode_without_end, "broken uuencode"),
    BadRequest("non-UTF-8 command", _non_utf8, "not UTF-8"),
    BadRequest(
        "oversized message",
        lambda k, m: address(plain("x" * 5_000_000 + f"\ntouch {m}")),
        "over the",
    ),
    BadRequest("reply-to not on the key", _foreign_reply_to, "not on the signing key"),
    BadRequest("from address not on the key", _from_not_on_key, "not on the signing key"),
    BadRequest("bound to another server", _bound_elsewhere, "bound to root@other.example"),
    BadRequest("detached signature without PGP/MIME", _signature_only, "no signed command"),
    BadRequest("PGP/MIME with a foreign protocol", _pgp_mime_wrong_protocol, "multipart/signed"),
    BadRequest("PGP/MIME with a third part", _pgp_mime_three_parts, "multipart/signed"),
    BadRequest(
        "encrypted without a server key", lambda k, m: _encrypted_stub(m), "encrypted request"
    ),
]


def _signed_for(keys: GpgKeys, marker: str, _: str) -> bytes:
    """Signed by a key the server has never seen (made on the fly in the signer home)."""
    fprs = keys.signer.fingerprints("stranger@client.example") if _has(keys) else []
    fpr = fprs[0] if fprs else keys.signer.gen_key("Stranger <stranger@client.example>")
    return address(
        plain(keys.signer.sign(f"touch {marker}\n".encode(), fpr, "clearsign").decode()),
        sender="stranger@client.example",
    )


def _has(keys: GpgKeys) -> bool:
    try:
        keys.signer.fingerprints("stranger@client.example")
    except AssertionError:
        return False
    return True


def _encrypted_stub(marker: str) -> bytes:
    head = (
        f"From: {ALICE}\nTo: {RECIPIENT}\nSubject: x\nMIME-Version: 1.0\n"
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; '
        'boundary="b1"\n'
    )
    body = (
        b"--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n"
        b"\r\nhQ" + marker.encode() + b"\r\n-----END PGP MESSAGE-----\r\n--b1--\r\n"
    )
    return _raw(head, body)
