"""Find the signed payload of a request mail (ARCHITECTURE.md §4), without verifying it.

Pure: bytes in, a `ParsedRequest` out, or `RequestRefused` with the reason.
Everything outside the OpenPGP data is ignored by later steps; only the
signed bytes ever run.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import quopri
import re
from dataclasses import dataclass
from email import errors as email_errors
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Literal

from mailsh_server.html_text import html_text

MAX_DEPTH = 4
# Bounds checked on the raw bytes before the stdlib parser builds the MIME tree:
# its cost grows with the number and nesting of parts, and a request needs few.
MAX_BOUNDARY_LINES = 256
MAX_CONTENT_TYPES = 64
MAX_ARMOR_BLOCKS = 8
MAX_UU_DEPTH = 2
MAX_HEADER_CHARS = {"subject": 300, "message-id": 300, "references": 2000}
_CONTENT_TYPE_LINE = re.compile(rb"(?im)^content-type[ \t]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MSG_ID = re.compile(r"<[!-;=?-~]{1,250}>")  # printable ASCII but < and >
# A reply address: one @, no white space (Unicode's included), control or special
# characters; anything else is not answered (it would not survive a To: header).
_ATOMS = r'[^\s\x00-\x1f\x7f<>()\[\],;:"\\@]'
_ADDRESS = re.compile(rf"^{_ATOMS}{{1,64}}@{_ATOMS}{{1,255}}$")
_FATAL_DEFECTS = (
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.CloseBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
    email_errors.InvalidMultipartContentTransferEncodingDefect,
    email_errors.MissingHeaderBodySeparatorDefect,
)
_CLEARSIGNED = re.compile(
    rb"^-----BEGIN PGP SIGNED MESSAGE-----\r?\n.*?^-----END PGP SIGNATURE-----[ \t\r]*$",
    re.M | re.S,
)
_ARMORED = re.compile(
    rb"^-----BEGIN PGP MESSAGE-----\r?\n.*?^-----END PGP MESSAGE-----[ \t\r]*$", re.M | re.S
)
_UU_BEGIN = re.compile(rb"^begin [0-7]{3,4} \S.*$", re.M)
_UU_END = re.compile(rb"^end[ \t]*\r?$", re.M)

PayloadKind = Literal["opaque", "clearsigned", "detached", "encrypted"]
HTML_ONLY = (
    "the signed part of your mail is HTML only, and mailsh runs only plain text. Send plain "
    "text: Thunderbird: Account Settings > Composition & Addressing > uncheck 'Compose "
    "messages in HTML format' (or Options > Delivery Format > Plain Text Only); K-9 Mail / "
    "FairEmail: Message format 'Plain text'; Apple Mail: Format > Make Plain Text; "
    "Evolution: Format > Plain Text; Mailvelope and FlowCrypt: plain-text compose "
    "(nothing was run)"
)


class RequestRefused(Exception):
    """The request breaks a rule; `reason` is logged (and maybe answered)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Replay(RequestRefused):
    """A copy of a request already taken: logged, never answered. The original is
    answered; anyone who saw it could otherwise resend it to make the server mail
    its signer, once per copy."""


@dataclass(frozen=True)
class Envelope:
    """The headers a reply needs."""

    subject: str
    message_id: str | None
    references: str | None
    reply_address: str | None
    auto_submitted: bool


@dataclass(frozen=True)
class Payload:
    """OpenPGP data to hand to gpg; for `detached`, `data` is the signed MIME entity."""

    kind: PayloadKind
    data: bytes
    signature: bytes | None = None


@dataclass(frozen=True)
class Flowed:
    """The signed text/plain part says `format=flowed` (RFC 3676), with DelSp or not."""

    delsp: bool = False


@dataclass(frozen=True)
class SignedBody:
    """The command part of a PGP/MIME signed entity, and how its text was written;
    `problem` says why the signed entity holds no command (checked once trust is)."""

    text: bytes
    flowed: Flowed | None = None
    problem: str | None = None


@dataclass(frozen=True)
class ParsedRequest:
    envelope: Envelope
    payload: Payload


def _header(msg: Message, name: str) -> str | None:
    """A header as one line of text, decoded (RFC 2047), control characters gone, bounded."""
    value = msg.get(name)
    if value is None:
        return None
    limit = MAX_HEADER_CHARS.get(name.lower(), 300)
    keep_end = name.lower() == "references"
    text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    # Cut before decoding, which grows quadratically with the number of encoded words:
    # bounded whatever postfix lets in. An encoded word (at most 75 characters, RFC 2047)
    # holds at least one character, so the first `limit` characters survive the cut.
    text = text[-76 * limit :] if keep_end else text[: 76 * limit]
    if name.lower() == "subject":
        with contextlib.suppress(HeaderParseError, LookupError, UnicodeError, ValueError):
            text = str(make_header(decode_header(text)))
        # What could not be decoded stays text: never an encoded word again, which the
        # reply's Subject would decode, and fail to write, once more.
        text = text.replace("=?", "= ?")
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text[-limit:] if keep_end else text[:limit]


def _message_ids(msg: Message, name: str) -> list[str]:
    """The msg-ids (`<printable ASCII>`) of a Message-ID or References header; anything
    else in it is dropped, so the reply's In-Reply-To and References can always be written."""
    return _MSG_ID.findall(_header(msg, name) or "")


def envelope_of(msg: Message) -> Envelope:
    reply_to = getaddresses([str(v) for v in msg.get_all("Reply-To", [])])
    sender = getaddresses([str(v) for v in msg.get_all("From", [])])
    address = next((a for _, a in reply_to + sender if "@" in a), None)
    auto = (_header(msg, "Auto-Submitted") or "no").lower()
    return Envelope(
        subject=_header(msg, "Subject") or "",
        message_id=next(iter(_message_ids(msg, "Message-ID")), None),
        references=" ".join(_message_ids(msg, "References")) or None,
        reply_address=address.lower() if address and _ADDRESS.match(address) else None,
        auto_submitted=auto != "no",
    )


def decode_uu(block: bytes) -> bytes:
    """Decode a uuencoded block (`begin ...` to `end`), refusing broken lines."""
    out = bytearray()
    lines = block.replace(b"\r\n", b"\n").split(b"\n")
    for line in lines[1:]:
        if line.strip() == b"end":
            return bytes(out)
        if not line.strip():
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error as e:
            raise RequestRefused(f"broken uuencode: {e}") from None
    raise RequestRefused("broken uuencode: no end line")


def _decoded_body(part: Message) -> bytes:
    """A leaf part's body, transfer-decoded; a broken encoding is refused, not guessed."""
    cte = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if cte in ("7bit", "8bit", "binary", ""):
        body = part.get_payload(decode=True)  # the raw bytes, 8-bit ones included
        if not isinstance(body, bytes):
            raise RequestRefused("malformed MIME: leaf part without a body")
        return body
    text = part.get_payload(decode=False)
    if not isinstance(text, str):
        raise RequestRefused("malformed MIME: leaf part without a body")
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise RequestRefused(f"8-bit bytes in a {cte} body") from None
    if cte == "base64":
        try:
            return base64.b64decode(b"".join(raw.split()), validate=True)
        except binascii.Error as e:
            raise RequestRefused(f"broken base64: {e}") from None
    if cte == "quoted-printable":
        return quopri.decodestring(raw)
    if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        begin = _UU_BEGIN.search(raw)
        if begin is None:
            raise RequestRefused("broken uuencode: no begin line")
        return decode_uu(raw[begin.start() :])
    raise RequestRefused(f"unknown Content-Transfer-Encoding {cte!r}")


def _is_binary_openpgp(data: bytes) -> bool:
    """A binary (non-armored) OpenPGP message starts with a packet tag byte."""
    return bool(data) and data[0] & 0x80 != 0


def payloads_in_text(data: bytes, depth: int = 0) -> list[Payload]:
    """Armored, clear-signed and uuencoded OpenPGP data inside one decoded body."""
    blocks = data.count(b"-----BEGIN PGP ") + len(_UU_BEGIN.findall(data))
    if blocks > MAX_ARMOR_BLOCKS:
        raise RequestRefused(f"{blocks} OpenPGP blocks in one part (send one per mail)")
    found = [Payload("clearsigned", m.group(0)) for m in _CLEARSIGNED.finditer(data)]
    found += [Payload("opaque", m.group(0)) for m in _ARMORED.finditer(data)]
    for begin in _UU_BEGIN.finditer(data):
        end = _UU_END.search(data, begin.end())
        if end is None:
            raise RequestRefused("broken uuencode: no end line")
        if depth >= MAX_UU_DEPTH:
            raise RequestRefused("uuencoded data nested in uuencoded data")
        inner = decode_uu(data[begin.start() : end.end()])
        found += payloads_in_text(inner, depth + 1) or (
            [Payload("opaque", inner)] if _is_binary_openpgp(inner) else []
        )
    if not found and _is_binary_openpgp(data):
        found.append(Payload("opaque", data))
    return found


def first_part_bytes(raw: bytes, boundary: str) -> bytes:
    """The exact bytes of a multipart's first body part (RFC 3156 signs these), CRLF."""
    text = raw.replace(b"\r\n", b"\n")
    delimiter = b"--" + boundary.encode("ascii", "surrogateescape")
    start = re.search(rb"(?m)^" + re.escape(delimiter) + rb"[ \t]*\n", text)
    if start is None:
        raise RequestRefused("malformed MIME: multipart/signed boundary not found")
    end = text.find(b"\n" + delimiter, start.end())
    if end < 0:
        raise RequestRefused("malformed MIME: multipart/signed has no second part")
    part = text[start.end() : end]
    if b"\r" in part:
        # A text-mode signature trims trailing CRs from each line before it hashes: a CR
        # added in transit would still verify, yet end a header block, hide a flowed soft
        # break or undo a line continuation. RFC 5322 allows a CR only before LF.
        raise RequestRefused("a carriage return that ends no line in the signed part")
    return part.replace(b"\n", b"\r\n")


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    if not isinstance(payload, list):
        raise RequestRefused("malformed MIME: multipart without parts")
    return [p for p in payload if isinstance(p, Message)]


def _signed_part(raw: bytes, part: Message) -> Payload:
    parts = _children(part)
    protocol = str(part.get_param("protocol", "") or "").lower()
    if protocol != "application/pgp-signature" or len(parts) != 2:
        raise RequestRefused("malformed PGP/MIME: multipart/signed needs a body and a signature")
    boundary = part.get_boundary()
    if boundary is None:
        raise RequestRefused("malformed MIME: multipart/signed without a boundary")
    signature = _decoded_body(parts[1])
    return Payload("detached", first_part_bytes(raw, boundary), signature)


def _collect(raw: bytes, part: Message, depth: int, found: list[Payload]) -> None:
    if depth > MAX_DEPTH:
        raise RequestRefused(f"MIME nested deeper than {MAX_DEPTH} levels")
    if any(isinstance(d, _FATAL_DEFECTS) for d in part.defects):
        names = ", ".join(type(d).__name__ for d in part.defects)
        raise RequestRefused(f"malformed MIME ({names})")
    ctype = part.get_content_type()
    if ctype == "multipart/signed":
        found.append(_signed_part(raw, part))
    elif ctype == "multipart/encrypted":
        parts = _children(part)
        if len(parts) != 2:
            raise RequestRefused("malformed PGP/MIME: multipart/encrypted needs two parts")
        found.append(Payload("encrypted", _decoded_body(parts[1])))
    elif ctype == "multipart/alternative":
        # One content, several renderings: the plain text one when there is one (webmail
        # sends a clear-signed block in both, and only the plain one keeps its bytes).
        children = _children(part)
        plain = [c for c in children if c.get_content_type() == "text/plain"]
        for child in plain[:1] or children:
            _collect(raw, child, depth + 1, found)
    elif part.is_multipart():
        for child in _children(part):
            _collect(raw, child, depth + 1, found)
    elif ctype == "text/html":
        body = _decoded_body(part)
        if b"-----BEGIN PGP " in body:  # else there is nothing to find: skip the HTML parser
            found.extend(payloads_in_text(html_text(body, part)))
    elif ctype != "application/pgp-signature":
        found.extend(payloads_in_text(_decoded_body(part)))


def find_payload(raw: bytes, msg: Message | None = None) -> Payload | None:
    """The one OpenPGP payload in a message or MIME entity (None if there is none)."""
    if msg is None:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    found: list[Payload] = []
    _collect(raw, msg, 0, found)
    unique = list(dict.fromkeys(found))
    if len(unique) > 1:
        raise RequestRefused(f"{len(unique)} signed blocks in one message (send one per mail)")
    return unique[0] if unique else None


def protected_subject(entity: bytes) -> str | None:
    """The Subject of a decrypted request's own headers (protected headers), if any."""
    return _header(
        BytesParser(policy=policy.compat32).parsebytes(entity, headersonly=True), "Subject"
    )


def check_bounds(raw: bytes) -> None:
    """Refuse, before parsing, a mail with more MIME structure than a request can need."""
    boundaries = raw.count(b"\n--") + raw.startswith(b"--")
    if boundaries > MAX_BOUNDARY_LINES:
        raise RequestRefused(f"{boundaries} MIME boundary lines (at most {MAX_BOUNDARY_LINES})")
    types = len(_CONTENT_TYPE_LINE.findall(raw))
    if types > MAX_CONTENT_TYPES:
        raise RequestRefused(f"{types} MIME parts (at most {MAX_CONTENT_TYPES})")


def parse_request(raw: bytes, max_bytes: int) -> ParsedRequest:
    """The one signed (or encrypted) payload of a request mail."""
    if len(raw) > max_bytes:
        raise RequestRefused(f"message of {len(raw)} bytes is over the {max_bytes}-byte limit")
    if not raw.strip():
        raise RequestRefused("empty message")
    check_bounds(raw)
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    payload = find_payload(raw, msg)
    if payload is None:
        raise RequestRefused("no signed command in the message")
    return ParsedRequest(envelope_of(msg), payload)


def signed_entity_body(entity: bytes) -> SignedBody:
    """The command inside a PGP/MIME signed entity: its first text/plain body part (not an
    attachment, such as Thunderbird's public key), as UTF-8, and whether it is flowed."""
    check_bounds(entity)
    msg = BytesParser(policy=policy.compat32).parsebytes(entity)
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    texts = [p for p in leaves if p.get_content_type() == "text/plain"]
    inline = [p for p in texts if p.get_content_disposition() != "attachment"]
    for part in (inline or texts)[:1]:
        text = _as_utf8(_decoded_body(part), part.get_content_charset("utf-8"))
        return SignedBody(text, _flowed(part))
    if any(p.get_content_type() == "text/html" for p in leaves):
        return SignedBody(b"", problem=HTML_ONLY)
    return SignedBody(b"", problem="the signed MIME part holds no text/plain command")


def _flowed(part: Message) -> Flowed | None:
    """RFC 3676 parameters of a text/plain part (inside the signature: its own headers)."""
    if str(part.get_param("format", "") or "").lower() != "flowed":
        return None
    return Flowed(delsp=str(part.get_param("delsp", "") or "").lower() == "yes")


def _as_utf8(body: bytes, charset: str) -> bytes:
    if charset in ("utf-8", "us-ascii", "ascii"):
        return body
    try:
        return body.decode(charset).encode("utf-8")
    except (LookupError, UnicodeDecodeError):
        raise RequestRefused(f"the command's charset {charset[:40]!r} cannot be read") from None
