"""Read gpg's `--status-fd` channel into what the request rules need (pure).

The channel is bytes from a pipe that carries nothing else (`mailsh_server.gpg`).
It is split on LF only: gpg escapes control bytes inside status lines, but not
Unicode line separators, so `str.splitlines()` would cut a line where a user ID
or file name says so. A line that does not start with `[GNUPG:] ` means the
channel is not what we think it is: the verification fails.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_PREFIX = b"[GNUPG:] "
_KEYWORD = re.compile(rb"^[A-Z_0-9]+$")
_HEX = re.compile(r"^[0-9A-F]{16,64}$")
_SIGNATURE_PROBLEMS = {
    "BADSIG": "bad signature",
    "EXPSIG": "the signature has expired",
    "EXPKEYSIG": "the signing key has expired",
    "REVKEYSIG": "the signing key has been revoked",
}
_DATA_PROBLEMS = {
    "NODATA": "no OpenPGP data",
    "BADARMOR": "broken OpenPGP armor",
    "DECRYPTION_FAILED": "cannot decrypt",
    "NO_SECKEY": "not encrypted to this server's key",
    "BADMDC": "the encrypted data was modified",
}
# Data signatures: binary (0x00) and canonical text (0x01). SIG_ID exists only for these.
_DATA_CLASSES = ("00", "01")
# RFC 3156 micalg names of OpenPGP hash algorithm ids (RFC 4880 §9.4).
_MICALG = {2: "pgp-sha1", 8: "pgp-sha256", 9: "pgp-sha384", 10: "pgp-sha512", 11: "pgp-sha224"}


@dataclass(frozen=True)
class SignatureStatus:
    """One gpg run as its status channel reports it; `valid` only for one good data signature."""

    valid: bool
    problem: str | None = None
    signatures: int = 0
    plaintexts: int = 0
    decrypted: bool = False
    primary_fingerprint: str | None = None
    signing_fingerprint: str | None = None
    timestamp: int | None = None
    signature_id: str | None = None


class _Garbled(Exception):
    pass


def _timestamp(value: str) -> int:
    """VALIDSIG timestamps: seconds since the epoch, or ISO 8601 (`20261125T101010`)."""
    if value.isdigit():
        return int(value)
    try:
        parsed = dt.datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        raise _Garbled(f"timestamp {value[:20]!r}") from None
    return int(parsed.timestamp())


def status_lines(channel: bytes) -> list[tuple[str, list[str]]]:
    """(keyword, arguments) per line; raises `_Garbled` for anything but status lines."""
    if not channel:
        return []
    if not channel.endswith(b"\n"):
        raise _Garbled("an unterminated line")
    lines = []
    for line in channel[:-1].split(b"\n"):
        if not line.startswith(_PREFIX):
            raise _Garbled("a line without the [GNUPG:] prefix")
        words = line[len(_PREFIX) :].split(b" ")
        if not _KEYWORD.match(words[0]):
            raise _Garbled("a malformed keyword")
        lines.append((words[0].decode(), [w.decode("utf-8", "replace") for w in words[1:]]))
    return lines


@dataclass
class _Signature:
    good_keyid: str | None = None
    valid: list[str] | None = None
    sig_id: str | None = None
    problem: str | None = None


def _signature_problem(sig: _Signature) -> str | None:
    if sig.problem:
        return sig.problem
    if sig.good_keyid is None or sig.valid is None or len(sig.valid) < 10:
        return "signature not verified"
    signing, _, _, _, _, _, _, _, sig_class, primary = sig.valid[:10]
    if not (_HEX.match(signing) and _HEX.match(primary)):
        return "signature not verified"
    if not signing.endswith(sig.good_keyid.upper()):
        return "gpg named two different signing keys"
    if sig_class not in _DATA_CLASSES or sig.sig_id is None:
        return f"signature class {sig_class} is not a signature over data"
    return None


@dataclass
class _Run:
    signatures: list[_Signature]
    plaintexts: int = 0
    decryption_okay: bool = False
    problem: str | None = None


def _read(lines: list[tuple[str, list[str]]]) -> _Run:
    run = _Run([])
    for keyword, args in lines:
        sig = run.signatures[-1] if run.signatures else None
        if keyword == "NEWSIG":
            run.signatures.append(_Signature())
        elif keyword == "PLAINTEXT":
            run.plaintexts += 1
        elif keyword == "DECRYPTION_OKAY":
            run.decryption_okay = True
        elif keyword in _DATA_PROBLEMS:
            run.problem = run.problem or _DATA_PROBLEMS[keyword]
        elif keyword == "ERROR":
            run.problem = run.problem or f"gpg could not read the data ({' '.join(args)[:80]})"
        elif sig is None:
            continue
        elif keyword == "GOODSIG" and args:
            sig.good_keyid = args[0]
        elif keyword == "VALIDSIG":
            sig.valid = args
        elif keyword == "SIG_ID" and args:
            sig.sig_id = args[0]
        elif keyword in _SIGNATURE_PROBLEMS:
            sig.problem = sig.problem or _SIGNATURE_PROBLEMS[keyword]
        elif keyword == "ERRSIG":
            no_key = len(args) > 5 and args[5] == "9"
            detail = " (no public key for it)" if no_key else ""
            sig.problem = sig.problem or f"unverifiable signature{detail}"
    return run


def _run_problem(run: _Run) -> str | None:
    """What is wrong with the data itself (armor, packets, decryption), signatures aside."""
    if run.problem:
        return run.problem
    if run.plaintexts > 1:
        return f"{run.plaintexts} pieces of data where one is accepted"
    return None


def signature_status(channel: bytes, returncode: int = 0) -> SignatureStatus:
    """Summarise one gpg run (a verification, or a decryption that may carry a signature)."""
    try:
        run = _read(status_lines(channel))
    except _Garbled as e:
        return SignatureStatus(False, f"gpg's status channel is garbled ({e})")
    problem = _run_problem(run)
    decrypted = run.decryption_okay and problem is None and returncode == 0
    counts = (len(run.signatures), run.plaintexts, decrypted)
    if problem is None and len(run.signatures) != 1:
        n = len(run.signatures)
        problem = "no signature" if n == 0 else f"{n} signatures where one is accepted"
    problem = problem or _signature_problem(run.signatures[0])
    if problem is None and returncode != 0:
        problem = f"gpg failed (exit status {returncode})"
    valid = run.signatures[0].valid if problem is None else None
    try:
        timestamp = _timestamp(valid[2]) if valid else None
    except _Garbled as e:
        problem = f"gpg's status channel is garbled ({e})"
    if problem is not None or valid is None:
        return SignatureStatus(False, problem, *counts)
    return SignatureStatus(
        True,
        None,
        *counts,
        primary_fingerprint=valid[9],
        signing_fingerprint=valid[0],
        timestamp=timestamp,
        signature_id=run.signatures[0].sig_id,
    )


def created_signature_micalg(channel: bytes) -> str | None:
    """The micalg of the one signature gpg says it made (SIG_CREATED), else None."""
    try:
        lines = status_lines(channel)
    except _Garbled:
        return None
    created = [args for keyword, args in lines if keyword == "SIG_CREATED"]
    if len(created) != 1 or len(created[0]) < 3 or not created[0][2].isdigit():
        return None
    return _MICALG.get(int(created[0][2]))
