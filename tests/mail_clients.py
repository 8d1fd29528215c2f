"""Request mails shaped the way real OpenPGP mail clients send them (real gpg signatures).

Each builder follows the client's documented format or a captured sample, named in its
docstring. `written` composes the body a person sends from that client: the command,
the client's signature block and, for a reply to a reply, its attribution line and the
server's previous reply quoted with "> " above (bottom-posting) or below (top-posting).
mutt is not rebuilt here: `tests/mutt.py` drives the real one.
"""

from __future__ import annotations

import quopri
import secrets
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate, make_msgid
from typing import Literal

from mailsh_server.message import Envelope
from mailsh_server.reply import result_reply
from mailsh_server.run import Captured, RunResult
from tests.fixtures.gpg import ALICE, GpgKeys
from tests.requests_corpus import RECIPIENT

Posting = Literal["none", "top", "bottom"]
CRLF = b"\r\n"


def previous_reply_body(output: str) -> str:
    """The body of a real server reply whose output is `output` (what a reply quotes)."""
    data = output.encode()
    run = RunResult(0, 0.02, Captured(data, len(data)), Captured(b"", 0), False)
    envelope = Envelope("mailsh: ls", "<old@client.example>", None, ALICE, False)
    reply = result_reply(envelope, RECIPIENT, ALICE, run)
    body = reply.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


@dataclass(frozen=True)
class Style:
    """How one client writes a reply: its attribution line and signature block."""

    attribution: str
    signature: str  # the lines after the separator ("" for none)
    separator: str = "-- "


def written(
    command: str, style: Style, posting: Posting = "none", quoted: str = "", signed: bool = True
) -> str:
    """The text a person sends: command, signature block, and the quoted previous reply."""
    parts = [command.rstrip("\n")]
    if signed and style.signature:
        parts.append(f"{style.separator}\n{style.signature}")
    body = "\n\n".join(parts) if len(parts) == 1 else f"{parts[0]}\n\n{parts[1]}"
    if posting == "none":
        return body + "\n"
    quote = "\n".join(f"> {line}" if line else ">" for line in quoted.rstrip("\n").split("\n"))
    if posting == "top":
        return f"{body}\n\n{style.attribution}\n{quote}\n"
    return f"{style.attribution}\n{quote}\n\n{body}\n"


# --- encodings -------------------------------------------------------------------------


def flowed(text: str, width: int = 72) -> str:
    """RFC 3676 format=flowed as Thunderbird writes it (mailnews.wraplength 72): space-
    stuffing, long unquoted lines soft-broken after a space (the space stays)."""
    out = []
    for line in text.split("\n"):
        if line.startswith(">"):
            out.append(line)
            continue
        if line.startswith((" ", "From ")):
            line = " " + line
        if len(line) <= width or line == "-- ":
            out.append(line)
            continue
        pieces = textwrap.wrap(
            line, width, break_long_words=False, break_on_hyphens=False, drop_whitespace=False
        )
        out += [p if i == len(pieces) - 1 else p.rstrip(" ") + " " for i, p in enumerate(pieces)]
    return "\n".join(out)


def qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends (trailing blanks kept as =20)."""
    encoded = quopri.encodestring(text.encode("utf-8"))
    return encoded.replace(b"\n", CRLF)


def _boundary(tag: str) -> str:
    return f"------------{tag}{secrets.token_hex(10)}"


def entity(headers: list[str], body: bytes) -> bytes:
    return CRLF.join(h.encode() for h in headers) + CRLF + CRLF + body


def multipart(subtype: str, parts: list[bytes], params: str = "", preamble: str = "") -> bytes:
    """A multipart entity (headers included), CRLF, as clients write them."""
    boundary = _boundary(subtype[:3])
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"{params}'
    body = (preamble.encode() + CRLF) if preamble else b""
    for part in parts:
        body += f"--{boundary}".encode() + CRLF + part + CRLF
    body += f"--{boundary}--".encode() + CRLF
    return head.encode() + CRLF + CRLF + body


# --- PGP/MIME --------------------------------------------------------------------------


def pgp_mime(
    keys: GpgKeys,
    signed_part: bytes,
    signature_headers: list[str],
    preamble: str = "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)",
    text_mode: bool = False,
) -> bytes:
    """multipart/signed around `signed_part` (RFC 3156 §5), signed over its exact bytes;
    `text_mode`: a text signature, as mutt's classic gpg.rc makes (`--textmode`)."""
    if text_mode:
        args = ["--armor", "--local-user", keys.alice + "!", "--textmode", "--detach-sign"]
        signature = keys.signer.run(*args, data=signed_part)
    else:
        signature = keys.signer.sign(signed_part, keys.alice, "detached")
    sig_part = entity(signature_headers, signature.replace(b"\n", CRLF))
    boundary = _boundary("sig")
    head = (
        "Content-Type: multipart/signed; micalg=pgp-sha512;\r\n"
        ' protocol="application/pgp-signature";\r\n'
        f' boundary="{boundary}"'
    )
    body = (
        preamble.encode()
        + CRLF
        + f"--{boundary}".encode()
        + CRLF
        + signed_part
        + CRLF
        + f"--{boundary}".encode()
        + CRLF
        + sig_part
        + CRLF
        + f"--{boundary}--".encode()
        + CRLF
    )
    return head.encode() + CRLF + CRLF + body


def mail(
    content: bytes, subject: str, sender: str = ALICE, extra: list[str] | None = None
) -> bytes:
    """A whole message: RFC 5322 headers over a MIME entity that carries its own Content-*."""
    msg_id = make_msgid(domain="client.example")
    headers = [
        f"From: Alice <{sender}>",
        f"To: {RECIPIENT}",
        f"Subject: {subject}",
        f"Date: {formatdate()}",
        f"Message-ID: {msg_id}",
        "MIME-Version: 1.0",
        *(extra or []),
    ]
    return CRLF.join(h.encode() for h in headers) + CRLF + content


def thunderbird(keys: GpgKeys, text: str, subject: str = "mailsh") -> bytes:
    """Thunderbird 115 with its built-in OpenPGP, PGP/MIME signed, plain text, default
    settings: format=flowed (mailnews.send_plaintext_flowed) quoted-printable text, the
    sender's public key attached ("Attach My Public Key", on by default), protected
    headers ("v1") on the signed multipart/mixed, the signature part named
    OpenPGP_signature.asc. Follows the structure of the protected-headers samples in
    autocrypt/memoryhole and Thunderbird's mimeEncrypt.jsm."""
    text_part = entity(
        [
            "Content-Type: text/plain; charset=UTF-8; format=flowed",
            "Content-Transfer-Encoding: quoted-printable",
        ],
        qp(flowed(text)),
    )
    key_id = keys.alice[-16:]
    key_part = entity(
        [
            f'Content-Type: application/pgp-keys; name="OpenPGP_0x{key_id}.asc"',
            f'Content-Disposition: attachment; filename="OpenPGP_0x{key_id}.asc"',
            "Content-Description: OpenPGP public key",
            "Content-Transfer-Encoding: quoted-printable",
        ],
        qp(keys.signer.export(keys.alice).decode()),
    )
    protected = (
        f'; protected-headers="v1"\r\nFrom: Alice <{ALICE}>\r\nTo: {RECIPIENT}\r\n'
        f"Message-ID: {make_msgid(domain='client.example')}\r\nSubject: {subject}"
    )
    signed = multipart("mixed", [text_part, key_part], params=protected)
    return mail(
        pgp_mime(
            keys,
            signed,
            [
                'Content-Type: application/pgp-signature; name="OpenPGP_signature.asc"',
                "Content-Description: OpenPGP digital signature",
                'Content-Disposition: attachment; filename="OpenPGP_signature.asc"',
            ],
        ),
        subject,
        extra=["User-Agent: Mozilla Thunderbird"],
    )


def k9_openkeychain(keys: GpgKeys, text: str, subject: str = "mailsh") -> bytes:
    """K-9 Mail 6 with OpenKeychain, PGP/MIME signed plain text: text/plain; charset=
    utf-8, quoted-printable, no format=flowed; signature part `application/pgp-signature;
    name=signature.asc` (K-9's PgpMessageBuilder / MimeUtility)."""
    text_part = entity(
        ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"],
        qp(text),
    )
    return mail(
        pgp_mime(
            keys,
            text_part,
            ["Content-Type: application/pgp-signature; name=signature.asc"],
            preamble="",
        ),
        subject,
        extra=["User-Agent: K-9 Mail for Android"],
    )


def fairemail(keys: GpgKeys, text: str, subject: str = "mailsh") -> bytes:
    """FairEmail with OpenKeychain, PGP/MIME: the signed part is multipart/alternative,
    a plain (quoted-printable) and an HTML rendering of the same text (FairEmail sends
    both by default; its MessageHelper builds the alternative, then signs it)."""
    html = "".join(f"<div>{_escape(line) or '<br>'}</div>" for line in text.rstrip().split("\n"))
    alternative = multipart(
        "alternative",
        [
            entity(
                [
                    "Content-Type: text/plain; charset=UTF-8",
                    "Content-Transfer-Encoding: quoted-printable",
                ],
                qp(text),
            ),
            entity(
                [
                    "Content-Type: text/html; charset=UTF-8",
                    "Content-Transfer-Encoding: quoted-printable",
                ],
                qp(f"<!DOCTYPE html><html><body>{html}</body></html>"),
            ),
        ],
    )
    return mail(
        pgp_mime(keys, alternative, ["Content-Type: application/pgp-signature"], preamble=""),
        subject,
    )


def apple_mail_gpg_suite(keys: GpgKeys, text: str, subject: str = "mailsh") -> bytes:
    """Apple Mail with GPG Suite (GPGMail), PGP/MIME: Mail composes rich text, so the
    signed part is multipart/alternative of text/plain (7bit or quoted-printable) and
    text/html; the signature part is `application/pgp-signature; name=signature.asc`
    with Content-Description "Message signed with OpenPGP" (GPGMail's
    MimePart+GPGMail / GMSecurityMethod sources)."""
    html = "<br>".join(_escape(line) for line in text.rstrip().split("\n"))
    alternative = multipart(
        "alternative",
        [
            entity(
                [
                    "Content-Transfer-Encoding: quoted-printable",
                    "Content-Type: text/plain;\r\n\tcharset=utf-8",
                ],
                qp(text),
            ),
            entity(
                [
                    "Content-Transfer-Encoding: quoted-printable",
                    "Content-Type: text/html;\r\n\tcharset=utf-8",
                ],
                qp(f'<html><head></head><body style="word-wrap: break-word;">{html}</body></html>'),
            ),
        ],
    )
    return mail(
        pgp_mime(
            keys,
            alternative,
            [
                "Content-Transfer-Encoding: 7bit",
                "Content-Disposition: attachment;\r\n\tfilename=signature.asc",
                "Content-Type: application/pgp-signature;\r\n\tname=signature.asc",
                "Content-Description: Message signed with OpenPGP",
            ],
            preamble="",
        ),
        subject,
        extra=["X-Mailer: Apple Mail (2.3731.700.6)"],
    )


def evolution(keys: GpgKeys, text: str, subject: str = "mailsh") -> bytes:
    """Evolution 3.46, PGP/MIME signed plain text: text/plain; charset="UTF-8" with
    format=flowed (composer-wrap, "Plain Text" mode) in quoted-printable, and the
    signature part `application/pgp-signature; name="signature.asc"` with
    Content-Description "This is a digitally signed message part" (camel-gpg-context)."""
    text_part = entity(
        [
            'Content-Type: text/plain; charset="UTF-8"; format=flowed',
            "Content-Transfer-Encoding: quoted-printable",
        ],
        qp(flowed(text)),
    )
    return mail(
        pgp_mime(
            keys,
            text_part,
            [
                'Content-Type: application/pgp-signature; name="signature.asc"',
                "Content-Description: This is a digitally signed message part",
                "Content-Transfer-Encoding: 7bit",
            ],
            preamble="",
        ),
        subject,
        extra=["X-Mailer: Evolution 3.46.4-2"],
    )


# --- inline (webmail) --------------------------------------------------------------------


def clearsigned(keys: GpgKeys, text: str) -> str:
    return keys.signer.sign(text.encode(), keys.alice, "clearsign").decode()


def mailvelope_plain(keys: GpgKeys, text: str, subject: str = "mailsh") -> bytes:
    """Mailvelope in a webmail's plain-text compose (Roundcube, Posteo): its editor
    clear-signs the text and pastes the armored block into the body; the webmail
    appends its own signature, outside the signed block."""
    body = clearsigned(keys, text) + "\n-- \nsent with a webmail\n"
    return mail(
        entity(
            [
                "Content-Type: text/plain; charset=UTF-8",
                "Content-Transfer-Encoding: quoted-printable",
            ],
            qp(body),
        ),
        subject,
    )


def mailvelope_html(keys: GpgKeys, text: str, subject: str = "mailsh") -> bytes:
    """Mailvelope in Gmail's rich-text compose: the armored block becomes one <div> per
    line, and Gmail sends it as multipart/alternative with its own plain rendering."""
    armored = clearsigned(keys, text)
    html = "".join(f"<div>{_escape(line) or '<br>'}</div>" for line in armored.rstrip().split("\n"))
    return mail(
        multipart(
            "alternative",
            [
                entity(["Content-Type: text/plain; charset=UTF-8"], armored.encode()),
                entity(
                    [
                        "Content-Type: text/html; charset=UTF-8",
                        "Content-Transfer-Encoding: quoted-printable",
                    ],
                    qp(f'<div dir="ltr">{html}</div>'),
                ),
            ],
        ),
        subject,
    )


def flowcrypt_inline(keys: GpgKeys, text: str, subject: str = "mailsh") -> bytes:
    """FlowCrypt's plain-text "sign only" (signed-msg-mail-formatter.ts): lines folded
    at 76, trailing whitespace removed from every line, the text trimmed, clear-signed,
    and sent as a text/plain body (SendableMsg.createPgpInline)."""
    folded = "\n".join(
        line.rstrip()
        for raw in text.split("\n")
        for line in (textwrap.wrap(raw, 76, break_long_words=False, break_on_hyphens=False) or [""])
    ).strip()
    return mail(
        entity(
            ["Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: 7bit"],
            clearsigned(keys, folded).encode(),
        ),
        subject,
    )


def html_only_clearsigned(keys: GpgKeys, text: str, subject: str = "mailsh") -> bytes:
    """A clear-signed block pasted into a rich-text compose that sends HTML alone: one
    line per <br>, blanks as &nbsp;."""
    armored = clearsigned(keys, text)
    html = "<br>".join(_escape(line) for line in armored.rstrip().split("\n"))
    return mail(
        entity(
            [
                "Content-Type: text/html; charset=UTF-8",
                "Content-Transfer-Encoding: quoted-printable",
            ],
            qp(f"<html><body><div>{html}</div></body></html>"),
        ),
        subject,
    )


def html_only_pgp_mime(keys: GpgKeys, text: str, subject: str = "mailsh") -> bytes:
    """Thunderbird with HTML compose and "Delivery format: HTML only": the signed part is
    text/html alone."""
    html = "<br>".join(_escape(line) for line in text.rstrip().split("\n"))
    part = entity(
        ["Content-Type: text/html; charset=UTF-8", "Content-Transfer-Encoding: 7bit"],
        f"<html><body>{html}</body></html>".encode(),
    )
    return mail(
        pgp_mime(keys, part, ['Content-Type: application/pgp-signature; name="sig.asc"']),
        subject,
    )


def _escape(line: str) -> str:
    return (
        line.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("  ", " &nbsp;")
    )


Builder = Callable[[GpgKeys, str], bytes]


@dataclass(frozen=True)
class Client:
    name: str
    build: Builder
    style: Style
    clear_signed: bool = False  # trailing blanks are not signed: '-- ' arrives as '--'


THUNDERBIRD_STYLE = Style("On 11/30/26 00:05, root@mailsh.localdomain wrote:", "Alice")
CLIENTS = [
    Client("thunderbird", thunderbird, THUNDERBIRD_STYLE),
    Client(
        "k9-openkeychain",
        k9_openkeychain,
        Style(
            "On November 30, 2026 12:05:00 AM UTC, root@mailsh.localdomain wrote:",
            "Sent from my Android device with K-9 Mail. Please excuse my brevity.",
        ),
    ),
    Client(
        "fairemail",
        fairemail,
        Style("30 Nov 2026 00:05:00 root@mailsh.localdomain:", "Sent from FairEmail"),
    ),
    Client(
        "apple-mail-gpg-suite",
        apple_mail_gpg_suite,
        Style("On 30 Nov 2026, at 00:05, mailsh <root@mailsh.localdomain> wrote:\n", "Alice"),
    ),
    Client(
        "evolution",
        evolution,
        Style("On Mon, 2026-11-30 at 00:05 +0000, root@mailsh.localdomain wrote:", "Alice"),
    ),
    Client(
        "mailvelope-plain",
        mailvelope_plain,
        Style("On 30.11.26 at 00:05, root@mailsh.localdomain wrote:", "Alice"),
        clear_signed=True,
    ),
    Client(
        "mailvelope-gmail-html",
        mailvelope_html,
        Style("On Mon, Nov 30, 2026 at 12:05 AM <root@mailsh.localdomain>\nwrote:", "Alice"),
        clear_signed=True,
    ),
    Client(
        "flowcrypt",
        flowcrypt_inline,
        Style("On 11/30/2026 at 00:05, root@mailsh.localdomain wrote:", "Alice"),
        clear_signed=True,
    ),
]
