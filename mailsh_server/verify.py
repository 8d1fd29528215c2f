"""The request rules of DESIGN §4, in order, over plain values (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailsh_server.gpgstatus import SignatureStatus
from mailsh_server.message import Envelope, RequestRefused

CLOCK_SKEW_S = 60
BINDING_HEADER = b"mailsh-to:"


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


def request_digest(status: SignatureStatus, signed: bytes) -> str:
    """The replay journal's key: one signature over one text."""
    h = hashlib.sha256()
    for part in (status.primary_fingerprint, status.signature_id, str(status.timestamp)):
        h.update((part or "").encode() + b"\0")
    h.update(hashlib.sha256(signed).digest())
    return h.hexdigest()


def strip_binding(signed: bytes, recipient: str, required: bool) -> bytes:
    """Check and remove the `Mailsh-To: <recipient>` first line (replay on another server)."""
    first, sep, rest = signed.partition(b"\n")
    if first.lower().startswith(BINDING_HEADER):
        named = first[len(BINDING_HEADER) :].strip().decode("utf-8", "replace").strip("<>")
        if named.lower() != recipient.lower():
            raise RequestRefused(f"request is bound to {named}, not to this server ({recipient})")
        return rest if sep else b""
    if required:
        raise RequestRefused(f"signed text does not start with 'Mailsh-To: {recipient}'")
    return signed


def command_text(signed: bytes) -> str:
    try:
        text = signed.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRefused("the signed command is not UTF-8") from None
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise RequestRefused("the signed command is empty")
    return text


def check_signature(status: SignatureStatus, policy: Policy, now: float) -> KeyPolicy:
    """Rules 1-4: good signature, trusted primary key, key usable, signature fresh."""
    if not status.valid or status.primary_fingerprint is None or status.timestamp is None:
        raise RequestRefused(status.problem or "signature not verified")
    key = policy.keys.get(status.primary_fingerprint)
    if key is None:
        raise RequestRefused(f"signer {status.primary_fingerprint} is not a trusted key")
    if status.key_problem:
        raise RequestRefused(status.key_problem)
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
    signed: bytes,
    envelope: Envelope,
    addresses: Callable[[str], Sequence[str]],
    seen: Callable[[str], bool],
    policy: Policy,
    now: float,
) -> Accepted:
    """Apply every rule in DESIGN §4 order; raise `RequestRefused` at the first broken one."""
    key = check_signature(status, policy, now)
    digest = request_digest(status, signed)
    if seen(digest):
        raise RequestRefused("replay of an already accepted request")
    assert status.primary_fingerprint is not None and status.timestamp is not None
    reply = check_reply_address(envelope, key, addresses(status.primary_fingerprint))
    body = strip_binding(signed, policy.recipient, policy.require_binding)
    return Accepted(
        digest=digest,
        signer=status.primary_fingerprint,
        signed_at=status.timestamp,
        run_as=key.run_as or policy.run_as,
        reply_address=reply,
        command=command_text(body),
    )
