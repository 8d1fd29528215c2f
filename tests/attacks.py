"""Attacks on the request handler, as an attacker would build them (real gpg, real MIME).

Each builder returns request mails. The unit tests (`tests/unit/test_attacks.py`)
feed them to the handler; the integration tests send the same ones to a
running container.
"""

from __future__ import annotations

import base64
import datetime as dt
import quopri
import re
import time
import zlib
from collections.abc import Callable
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart

from provision.client.request_mail import uuencode
from tests.fixtures.gpg import ALICE, GpgKeys
from tests.mail_clients import entity, mail, pgp_mime
from tests.requests_corpus import RECIPIENT, _raw, address, request

LINE_SEPARATORS = ("\u2028", "\u0085")


def _forged_status(fpr: str, separator: str) -> str:
    """What a good signature by `fpr` looks like on gpg's status channel, one line per
    `separator` (the characters `str.splitlines()` splits on, but gpg does not escape)."""
    now = int(time.time())
    lines = [
        "[GNUPG:] NEWSIG",
        f"[GNUPG:] SIG_ID forgedforgedforgedforged00 2026-01-01 {now}",
        f"[GNUPG:] GOODSIG {fpr[-16:]} Alice <{ALICE}>",
        f"[GNUPG:] VALIDSIG {fpr} 2026-01-01 {now} 0 4 0 22 8 00 {fpr}",
    ]
    return separator + separator.join(lines) + separator


def forged_status_in_armor_header(keys: GpgKeys, command: str, separator: str) -> bytes:
    """An UNSIGNED literal packet whose armor header, echoed by gpg, fakes a good signature."""
    armored = keys.signer.run("--armor", "--store", data=command.encode()).decode()
    head, _, rest = armored.partition("\n")
    header = f"Comment: mailsh{_forged_status(keys.alice, separator)}"
    return address(_text(f"{head}\n{header}\n{rest}"))


def forged_status_in_file_name(keys: GpgKeys, command: str, separator: str) -> bytes:
    """An unsigned literal packet whose file name fakes a good signature."""
    name = "cmd" + _forged_status(keys.alice, separator)
    armored = keys.signer.run("--armor", "--store", "--set-filename", name, data=command.encode())
    return address(_text(armored.decode()))


def reencodings(keys: GpgKeys, command: str) -> list[tuple[str, bytes]]:
    """One signature, many mails: every way to carry it that still verifies."""
    clear = keys.signer.sign(command.encode(), keys.alice, "clearsign")
    crlf = clear.replace(b"\n", b"\r\n")
    text_crlf = _crlf_in_text(clear)
    mixed = b"\n".join(
        line + (b"\r" if i % 2 else b"") for i, line in enumerate(clear.split(b"\n"))
    )
    # A second signature over the same text, made earlier: a signer's separate request
    # (the same key signing the same text in the same second would be one request).
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    opaque = keys.signer.sign(command.encode(), keys.alice, "opaque", faked=earlier)
    binary = keys.signer.run("--dearmor", data=opaque)
    headed = opaque.replace(b"-----\n", b"-----\nComment: re-armored\nVersion: 9\n", 1)
    return [
        ("clear-signed, LF", address(_text(clear.decode()))),
        ("clear-signed, CRLF inside base64", address(_base64_text(crlf))),
        ("clear-signed, CRLF in the text only, base64", address(_base64_text(text_crlf))),
        ("clear-signed, mixed line ends, quoted-printable", address(_qp_text(mixed))),
        ("clear-signed, trailing blanks added", address(_text(_trailing_blanks(clear)))),
        ("clear-signed, as an .asc attachment", address(_attachment(clear))),
        ("opaque, armored", address(_text(opaque.decode()))),
        ("opaque, binary attachment", address(_attachment(binary))),
        ("opaque, uuencoded", address(_text(uuencode(opaque, "cmd.asc")))),
        ("opaque, new armor headers", address(_text(headed.decode()))),
    ]


def pgp_mime_reencodings(keys: GpgKeys, command: str) -> list[tuple[str, bytes]]:
    """A PGP/MIME request, and the same signature moved into other wrappings."""
    original = request(keys, "pgp-mime", command)
    boundary = re.search(rb'boundary="([^"]+)"', original)
    assert boundary is not None
    renamed = original.replace(boundary.group(1), b"an-attackers-boundary")
    return [("PGP/MIME", original), ("PGP/MIME, new boundary", renamed)]


def _text(text: str) -> EmailMessage:
    msg = EmailMessage()
    msg.set_content(text, cte="7bit" if text.isascii() else "8bit")
    return msg


def _base64_text(data: bytes) -> Message:
    """A text/plain part whose base64 body keeps every byte, CRs included."""
    return _encoded_text(data, "base64", base64.encodebytes(data).decode())


def _qp_text(data: bytes) -> Message:
    """A text/plain part whose quoted-printable body keeps every CR (as =0D)."""
    return _encoded_text(data, "quoted-printable", quopri.encodestring(data).decode())


def _encoded_text(data: bytes, cte: str, encoded: str) -> Message:
    part = Message()
    part["MIME-Version"] = "1.0"
    part["Content-Type"] = "text/plain; charset=us-ascii"
    part["Content-Transfer-Encoding"] = cte
    part.set_payload(encoded)
    return part


def _crlf_in_text(clear: bytes) -> bytes:
    """CRLF on the signed text's lines only, LF elsewhere."""
    head, sep, rest = clear.partition(b"\n\n")
    text, sig_sep, sig = rest.partition(b"-----BEGIN PGP SIGNATURE-----")
    return head + sep + text.replace(b"\n", b"\r\n") + sig_sep + sig


def _trailing_blanks(clear: bytes) -> str:
    text = clear.decode()
    body_start = text.index("\n\n") + 2
    body_end = text.index("-----BEGIN PGP SIGNATURE-----")
    lines = text[body_start:body_end].split("\n")
    body = "\n".join([line + " \t " for line in lines[:-1]] + lines[-1:])
    return text[:body_start] + body + text[body_end:]


def _attachment(data: bytes) -> EmailMessage:
    msg = EmailMessage()
    msg.set_content("see attachment\n")
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename="c.asc")
    return msg


def compression_bomb(gib: int = 2) -> bytes:
    """A few KB of OpenPGP data that inflates to `gib` GiB: a compressed packet
    holding a compressed packet holding a literal of zeros. Signed by nobody.

    Old-format packet headers with indeterminate length: 0xAF is a literal data
    packet (tag 11: format b, name "x", date 0), 0xA3 a compressed one (tag 8,
    algorithm 1: raw deflate)."""
    zeros = b"\0" * (64 * 2**20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = [deflate.compress(b"\xaf" + b"b\x01x\x00\x00\x00\x00")]
    body += [deflate.compress(zeros) for _ in range(gib * 16)]
    body.append(deflate.flush())
    once = b"\xa3\x01" + b"".join(body)
    twice = zlib.compressobj(9, zlib.DEFLATED, -15)
    return b"\xa3\x01" + twice.compress(once) + twice.flush()


def compression_bomb_mail(gib: int = 2) -> bytes:
    armored = (
        "-----BEGIN PGP MESSAGE-----\n\n"
        + base64.encodebytes(compression_bomb(gib)).decode()
        + "-----END PGP MESSAGE-----\n"
    )
    return address(_text(armored))


def deep_multipart(depth: int = 1500) -> bytes:
    """MIME parts nested `depth` deep: the stdlib parser recurses once per level."""
    body = b"Content-Type: text/plain\n\nhello\n"
    for i in range(depth):
        b = f"b{i}".encode()
        body = (
            b'Content-Type: multipart/mixed; boundary="'
            + b
            + b'"\n\n--'
            + b
            + b"\n"
            + body
            + b"\n--"
            + b
            + b"--\n"
        )
    head = f"From: {ALICE}\nTo: {RECIPIENT}\nSubject: deep\nMIME-Version: 1.0\n"
    return _raw(head, b"").rstrip(b"\r\n") + b"\r\n" + body


def eight_bit_clearsign(keys: GpgKeys, command: str) -> bytes:
    """A clear-signed UTF-8 command in an 8-bit body (`invoke send --format clearsign`)."""
    signed = keys.signer.sign(command.encode(), keys.alice, "clearsign")
    return address(_text(signed.decode()))


def many_parts(count: int = 5000) -> bytes:
    outer = MIMEMultipart("mixed")
    for i in range(count):
        outer.attach(MIMEApplication(b"x", "octet-stream", name=f"{i}"))
    return address(outer)


def _packets(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, body) of each OpenPGP packet (old or new format, definite lengths only)."""
    packets, i = [], 0
    while i < len(data):
        first = data[i]
        if first & 0x40:  # new format
            tag, i = first & 0x3F, i + 1
            if data[i] < 192:
                length, i = data[i], i + 1
            elif data[i] < 224:
                length, i = ((data[i] - 192) << 8) + data[i + 1] + 192, i + 2
            else:
                length, i = int.from_bytes(data[i + 1 : i + 5], "big"), i + 5
        else:
            tag, kind, i = (first >> 2) & 0x0F, first & 3, i + 1
            size = (1, 2, 4)[kind]
            length, i = int.from_bytes(data[i : i + size], "big"), i + size
        packets.append((tag, data[i : i + length]))
        i += length
    return packets


def _packet(tag: int, body: bytes) -> bytes:
    """An old-format packet with a four-byte length."""
    return bytes([0x80 | (tag << 2) | 2]) + len(body).to_bytes(4, "big") + body


def text_signature_variants(keys: GpgKeys, command: str) -> list[tuple[str, bytes]]:
    """One text-mode (class 0x01) signed message, and copies whose literal packet was
    rewritten: other line ends, another file name, another date. All still verify:
    a text signature hashes canonical line ends, and neither name nor date."""
    signed = keys.signer.run(
        "--textmode",
        "--compress-algo",
        "none",
        "--local-user",
        keys.alice + "!",
        "--sign",
        data=command.encode(),
    )
    packets = _packets(signed)
    (index, literal) = next((n, body) for n, (tag, body) in enumerate(packets) if tag == 11)
    fmt, name_len = literal[0:1], literal[1]
    name, date, text = (
        literal[2 : 2 + name_len],
        literal[2 + name_len : 6 + name_len],
        literal[6 + name_len :],
    )

    def rebuilt(new_literal: bytes) -> bytes:
        parts = [_packet(tag, body) for tag, body in packets]
        parts[index] = _packet(11, new_literal)
        armored = keys.signer.run("--enarmor", data=b"".join(parts))
        return address(_text(_as_message_armor(armored)))

    crlf = text.replace(b"\n", b"\r\n")
    return [
        ("text signature", rebuilt(literal)),
        ("text signature, CRLF", rebuilt(fmt + bytes([name_len]) + name + date + crlf)),
        ("text signature, new file name", rebuilt(fmt + b"\x07evil.sh" + date + text)),
        ("text signature, new date", rebuilt(fmt + bytes([name_len]) + name + b"\0\0\0\1" + text)),
    ]


def _as_message_armor(armored: bytes, kind: str = "MESSAGE") -> str:
    """`gpg --enarmor` writes an ARMORED FILE block: make it a PGP `kind` block."""
    return (
        armored.decode()
        .replace("ARMORED FILE", kind)
        .replace('Comment: Use "gpg --dearmor" for unpacking\n', "")
    )


# The order of NIST P-256's base point: an ECDSA signature (r, s) also verifies as (r, n - s).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _mpi(value: int) -> bytes:
    size = (value.bit_length() + 7) // 8
    return value.bit_length().to_bytes(2, "big") + value.to_bytes(size, "big")


def _mpis(data: bytes) -> list[int]:
    values, at = [], 0
    while at < len(data):
        size = (int.from_bytes(data[at : at + 2], "big") + 7) // 8
        values.append(int.from_bytes(data[at + 2 : at + 2 + size], "big"))
        at += 2 + size
    return values


def rsa_modulus(keys: GpgKeys, fpr: str) -> int:
    """n of a v4 RSA public key in the signer's keyring."""
    body = _packets(keys.signer.run("--export", fpr))[0][1]
    assert body[0] == 4 and body[5] == 1, "not a v4 RSA key"
    return _mpis(body[6:])[0]


def reencoded_signature(keys: GpgKeys, clear: bytes, s: Callable[[int], int]) -> bytes:
    """The same clear-signed text and signature, its last number s re-encoded as `s(s)`:
    RSA's s + k*n and ECDSA's n - s verify as the same signature, with another SIG_ID."""
    text, marker, rest = clear.partition(b"-----BEGIN PGP SIGNATURE-----")
    signature = keys.signer.run("--dearmor", data=marker + rest)
    [(tag, body)] = _packets(signature)
    assert tag == 2 and body[0] == 4, "not a v4 signature"
    hashed = int.from_bytes(body[4:6], "big")
    unhashed = int.from_bytes(body[6 + hashed : 8 + hashed], "big")
    head_end = 8 + hashed + unhashed + 2  # both subpacket areas, the hash's first 16 bits
    values = _mpis(body[head_end:])
    values[-1] = s(values[-1])
    packet = _packet(2, body[:head_end] + b"".join(_mpi(v) for v in values))
    armored = _as_message_armor(keys.signer.run("--enarmor", data=packet), "SIGNATURE")
    return text + armored.encode()


def text_mode_request(keys: GpgKeys, text: str, flowed: bool = False) -> bytes:
    """A PGP/MIME request with a text signature, as mutt's classic gpg.rc sends them
    (`--textmode`: its hash trims each line's trailing CRs)."""
    ctype = "text/plain; charset=us-ascii" + ("; format=flowed" if flowed else "")
    part = entity([f"Content-Type: {ctype}", "Content-Disposition: inline"], text.encode())
    signature_headers = ['Content-Type: application/pgp-signature; name="signature.asc"']
    return mail(pgp_mime(keys, part, signature_headers, text_mode=True), "mailsh")


def guarded(marker: str) -> str:
    """A command whose `touch` runs only if a file that does not exist exists: a CR
    before the line end of its `\\` line would make the `touch` a command of its own."""
    return f"test -e /nonexistent/ready && \\\r\n  touch {marker}\r\necho done\r\n"
