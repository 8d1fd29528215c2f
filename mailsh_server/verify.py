"""The request rules of docs/ARCHITECTURE.md §4, in order, over plain values (pure)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mailsh_server.command import Cut, written_command
from mailsh_server.gpgstatus import SignatureStatus
from mailsh_server.keylist import KeyInfo
from mailsh_server.message import Envelope, PayloadKind, Replay, RequestRefused, SignedBody
from mailsh_server.protocol import BINDING_HEADER, REQUEST_ID_HEADER

CLOCK_SKEW_S = 60
_BINDING = BINDING_HEADER.lower().encode() + b":"
_REQUEST_ID = re.compile(
    rb"(?i)^" + re.escape(REQUEST_ID_HEADER.encode()) + rb":[ \t]*([\w-]{1,64})\r?$"
)
# A signed text that starts like a MIME entity is a PGP/MIME body re-wrapped as a
# plain signed message: its headers and transfer encoding would run as shell.
_MIME_START = re.compile(rb"(?i)^(content-[a-z-]+|mime-version)[ \t]*:")


@dataclass(frozen=True)
class KeyPolicy:
    fingerprint: str
    run_as: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True)
class Policy:
    keys: dict[str, KeyPolicy]
    run_as: str
    max_age_s: int
    recipient: str
    require_binding: bool


@dataclass(frozen=True)
class Accepted:
    """A request that passed every rule: who signed it, what runs, where the reply goes."""

    digest: str
    signer: str
    signed_at: int
    run_as: str
    reply_address: str
    command: str
    cuts: tuple[Cut, ...] = ()
    request_id: str | None = None


def request_digest(status: SignatureStatus, text: bytes) -> str:
    """The replay journal's key: who signed, when, and what (the signed text as it runs).

    Never the mail's bytes: text signatures verify over LF and CRLF alike, and the
    same signature can come armored, binary, uuencoded or in any transfer encoding.
    Nor gpg's SIG_ID: it hashes the signature's numbers as they are encoded, and some
    verify in more than one encoding (RSA's s + k*n, ECDSA's n - s), each with its own
    SIG_ID. The same key signing the same text in the same second is one request.
    """
    fingerprint, timestamp = status.primary_fingerprint, status.timestamp
    # SIG_ID is evidence of a signature over data (class 0x00 or 0x01).
    if not (fingerprint and timestamp and status.signature_id):
        raise RequestRefused("signature not verified")
    return _digest(fingerprint, str(timestamp), hashlib.sha256(text).hexdigest())


def legacy_digest(status: SignatureStatus) -> str:
    """The journal key of mailsh before it keyed on the signed text (signer, creation time,
    SIG_ID): a journal written by it may hold a request signed minutes before an upgrade.
    Checked as well until such entries age out (`max_age_s` after the upgrade)."""
    return _digest(status.primary_fingerprint, str(status.timestamp), status.signature_id)


def _digest(*parts: str | None) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update((part or "").encode() + b"\0")
    return h.hexdigest()


def strip_binding(signed: bytes, recipient: str, required: bool) -> bytes:
    """Check and remove the `Mailsh-To: <recipient>` first line (replay on another server)."""
    first, sep, rest = signed.partition(b"\n")
    if first.lower().startswith(_BINDING):
        named = first[len(_BINDING) :].strip().decode("utf-8", "replace").strip("<>")
        if named.lower() != recipient.lower():
            raise RequestRefused(f"request is bound to {named}, not to this server ({recipient})")
        return rest if sep else b""
    if required:
        raise RequestRefused(f"signed text does not start with '{BINDING_HEADER}: {recipient}'")
    return signed


def strip_request_id(signed: bytes) -> tuple[bytes, str | None]:
    """Remove the `Mailsh-Request-Id:` line `invoke send` puts first (after the binding)."""
    first, sep, rest = signed.partition(b"\n")
    found = _REQUEST_ID.match(first)
    if found is None:
        return signed, None
    return (rest if sep else b""), found.group(1).decode()


def signed_text(signed: bytes, kind: PayloadKind) -> bytes:
    """Exactly the text the signature covers, in the form it is run.

    A clear-signed text's signature ignores trailing blanks on each line (RFC 4880
    §7.1), so anyone could add them unseen; a line ending in `\\ ` means something
    else to bash than one ending in `\\`. They are dropped: what runs is what was signed.
    """
    text = canonical_text(signed, kind)
    if kind not in ("clearsigned", "detached") and _MIME_START.match(text):
        raise RequestRefused("the signed text is a MIME entity, not a command")
    return text


def canonical_text(signed: bytes, kind: PayloadKind) -> bytes:
    """The signed text with LF line ends, and for a clear-signed text without the
    trailing blanks its signature ignores (pure, never refuses)."""
    text = signed.replace(b"\r\n", b"\n")
    if kind == "clearsigned":
        text = b"\n".join(line.rstrip(b" \t") for line in text.split(b"\n"))
    return text


def command_text(signed: bytes) -> str:
    try:
        text = signed.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRefused("the signed command is not UTF-8") from None
    if not text.strip():
        raise RequestRefused("the signed command is empty")
    if "\0" in text:
        raise RequestRefused("the signed command contains a NUL byte")
    if "\r" in text:  # only CRLF line ends are taken; a lone CR means something to bash
        raise RequestRefused("the signed command contains a carriage return that ends no line")
    return text


def check_signature(
    status: SignatureStatus, keys: Mapping[str, KeyInfo], policy: Policy, now: float
) -> KeyPolicy:
    """Rules 1-4: good signature, trusted primary key, key usable, signature fresh."""
    if not status.valid:
        raise RequestRefused(status.problem or "signature not verified")
    primary, signing = status.primary_fingerprint, status.signing_fingerprint
    if primary is None or signing is None or status.timestamp is None:
        raise RequestRefused("signature not verified")
    key = policy.keys.get(primary)
    info = keys.get(primary)
    if key is None or info is None:
        raise RequestRefused(f"signer {primary} is not a trusted key")
    problem = info.signing_problem(signing)
    if problem:
        raise RequestRefused(problem)
    age = now - status.timestamp
    if age > policy.max_age_s:
        raise RequestRefused(f"signature is {age:.0f} s old (max_age_s = {policy.max_age_s})")
    if age < -CLOCK_SKEW_S:
        raise RequestRefused(f"signature is dated {-age:.0f} s in the future")
    return key


def check_reply_address(envelope: Envelope, key: KeyPolicy, addresses: Sequence[str]) -> str:
    """Rule 6: the reply goes only to the key's own addresses (or its configured reply_to)."""
    wanted = envelope.reply_address
    if wanted is None:
        raise RequestRefused("no From or Reply-To address to answer")
    allowed = {a.lower() for a in addresses}
    if key.reply_to:
        allowed.add(key.reply_to.lower())
    if wanted not in allowed:
        raise RequestRefused(f"reply address {wanted} is not on the signing key")
    return wanted


def accept(
    status: SignatureStatus,
    signed: SignedBody,
    kind: PayloadKind,
    envelope: Envelope,
    keys: Mapping[str, KeyInfo],
    seen: Callable[[str], bool],
    policy: Policy,
    now: float,
) -> Accepted:
    """Apply every rule in order; raise `RequestRefused` at the first broken one.

    Only then is the command taken from the signed text: without the binding and
    request-id lines and without what the mail client added (`command.written_command`).
    """
    key = check_signature(status, keys, policy, now)
    digest = request_digest(status, canonical_text(signed.text, kind))
    if seen(digest) or seen(legacy_digest(status)):
        raise Replay("replay of an already accepted request")
    assert status.primary_fingerprint is not None and status.timestamp is not None
    reply = check_reply_address(envelope, key, keys[status.primary_fingerprint].addresses)
    if signed.problem:
        raise RequestRefused(signed.problem)
    text = signed_text(signed.text, kind)
    body, request_id = strip_request_id(
        strip_binding(text, policy.recipient, policy.require_binding)
    )
    written = written_command(command_text(body), signed.flowed, kind == "clearsigned")
    return Accepted(
        digest=digest,
        signer=status.primary_fingerprint,
        signed_at=status.timestamp,
        run_as=key.run_as or policy.run_as,
        reply_address=reply,
        command=written.text,
        cuts=written.cuts,
        request_id=request_id,
    )
