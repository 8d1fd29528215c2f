"""Parse GnuPG `--status-fd` lines into what the request rules need (pure)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

_PREFIX = "[GNUPG:] "
_BAD = ("BADSIG", "ERRSIG")
_UNUSABLE = {
    "EXPKEYSIG": "the signing key has expired",
    "REVKEYSIG": "the signing key has been revoked",
    "EXPSIG": "the signature has expired",
    "KEYREVOKED": "the signing key has been revoked",
    "KEYEXPIRED": "the signing key has expired",
}


@dataclass(frozen=True)
class SignatureStatus:
    """One verification as gpg reported it."""

    signatures: int
    valid: bool
    primary_fingerprint: str | None = None
    signing_fingerprint: str | None = None
    timestamp: int | None = None
    signature_id: str | None = None
    problem: str | None = None
    key_problem: str | None = None


def _timestamp(value: str) -> int:
    """VALIDSIG/SIG_ID timestamps: seconds since the epoch, or ISO 8601 (`20261125T101010`)."""
    if value.isdigit():
        return int(value)
    parsed = dt.datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    return int(parsed.timestamp())


def status_lines(text: str) -> list[list[str]]:
    """The `[GNUPG:]` lines of gpg's status output, split into words."""
    return [
        line[len(_PREFIX) :].split()
        for line in text.splitlines()
        if line.startswith(_PREFIX) and len(line) > len(_PREFIX)
    ]


def parse_status(text: str) -> SignatureStatus:
    """Summarise one gpg verification; `valid` only for exactly one good signature."""
    lines = status_lines(text)
    signatures = sum(1 for words in lines if words[0] == "NEWSIG")
    problem: str | None = None
    key_problem: str | None = None
    primary = signing = sig_id = None
    timestamp: int | None = None
    goodsig = False
    for words in lines:
        keyword = words[0]
        if keyword == "GOODSIG":
            goodsig = True
        elif keyword in _BAD:
            no_key = keyword == "ERRSIG" and len(words) > 6 and words[6] == "9"
            detail = " (no public key for it)" if no_key else ""
            problem = (
                f"bad signature{detail}"
                if keyword == "BADSIG"
                else f"unverifiable signature{detail}"
            )
        elif keyword in _UNUSABLE:
            key_problem = key_problem or _UNUSABLE[keyword]
        elif keyword == "VALIDSIG" and len(words) >= 11:
            signing, primary = words[1], words[10]
            timestamp = _timestamp(words[3])
        elif keyword == "SIG_ID" and len(words) >= 2:
            sig_id = words[1]
        elif keyword in ("NODATA", "BADARMOR"):
            problem = problem or "no OpenPGP data"
        elif keyword == "DECRYPTION_FAILED":
            problem = problem or "cannot decrypt"
    if signatures == 0 and problem is None:
        problem = "no signature"
    elif signatures > 1:
        problem = f"{signatures} signatures where exactly one is accepted"
    elif problem is None and (primary is None or timestamp is None):
        problem = "signature not verified"
    valid = problem is None and (goodsig or key_problem is not None)
    return SignatureStatus(
        signatures=signatures,
        valid=valid,
        primary_fingerprint=primary,
        signing_fingerprint=signing,
        timestamp=timestamp,
        signature_id=sig_id,
        problem=problem,
        key_problem=key_problem,
    )
