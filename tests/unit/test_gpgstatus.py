"""Parsing gpg status lines (captured from gpg 2.2)."""

from __future__ import annotations

from mailsh_server.gpgstatus import parse_status

FPR = "09B8BDFD058A9C2384A374AEA5E19817421111EB"
GOOD = f"""[GNUPG:] NEWSIG
[GNUPG:] SIG_ID bz3GmxwDw69mABd1k0V411QXukU 2026-11-25 1795644528
[GNUPG:] GOODSIG A5E19817421111EB Alice <alice@client.example>
[GNUPG:] VALIDSIG {FPR} 2026-11-25 1795644528 0 4 0 22 8 00 {FPR}
"""


def test_good_signature_gives_primary_fingerprint_and_time() -> None:
    status = parse_status(GOOD)
    assert status.valid
    assert status.primary_fingerprint == FPR
    assert status.timestamp == 1795644528


def test_two_signatures_are_not_valid() -> None:
    assert not parse_status(GOOD + GOOD).valid


def test_expired_key_signature_is_valid_with_a_key_problem() -> None:
    status = parse_status(GOOD.replace("GOODSIG", "EXPKEYSIG"))
    assert status.valid
    assert status.key_problem == "the signing key has expired"


def test_iso_timestamps_are_understood() -> None:
    status = parse_status(GOOD.replace(" 1795644528 0 4", " 20261125T220848 0 4"))
    assert status.timestamp == 1795644528


def test_missing_public_key_is_named() -> None:
    text = "[GNUPG:] NEWSIG\n[GNUPG:] ERRSIG A5E19817421111EB 22 8 01 1795644528 9 -\n"
    assert parse_status(text).problem == "unverifiable signature (no public key for it)"
