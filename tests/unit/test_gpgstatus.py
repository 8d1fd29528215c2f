"""Reading gpg's status channel (lines captured from gpg 2.2)."""

from __future__ import annotations

from mailsh_server.gpgstatus import signature_status

FPR = "09B8BDFD058A9C2384A374AEA5E19817421111EB"
SUBKEY = "3A45F235C4125FF59022A66DD073EE2C567CE7FD"
GOOD = f"""[GNUPG:] NEWSIG
[GNUPG:] KEY_CONSIDERED {FPR} 0
[GNUPG:] SIG_ID bz3GmxwDw69mABd1k0V411QXukU 2026-11-25 1795644528
[GNUPG:] GOODSIG A5E19817421111EB Alice <alice@client.example>
[GNUPG:] VALIDSIG {FPR} 2026-11-25 1795644528 0 4 0 22 8 00 {FPR}
""".encode()


def test_good_signature_gives_primary_fingerprint_time_and_signature_id() -> None:
    status = signature_status(GOOD)
    assert status.valid
    assert status.primary_fingerprint == FPR
    assert status.timestamp == 1795644528
    assert status.signature_id == "bz3GmxwDw69mABd1k0V411QXukU"


def test_two_signatures_are_not_valid() -> None:
    status = signature_status(GOOD + GOOD)
    assert not status.valid
    assert status.problem == "2 signatures where one is accepted"


def test_a_line_without_the_status_prefix_fails_the_verification() -> None:
    status = signature_status(b"gpg: Good signature\n" + GOOD)
    assert not status.valid
    assert "garbled" in (status.problem or "")


def test_lines_are_split_on_line_feeds_only() -> None:
    # U+2028 (and U+0085, \x1c...) would start a new line for str.splitlines().
    forged = GOOD.replace(b"\n", "\u2028".encode())
    assert not signature_status(forged + b"\n").valid


def test_an_unterminated_channel_fails_the_verification() -> None:
    assert not signature_status(GOOD[:-1]).valid


def test_expired_signing_key_is_a_problem_of_the_signature() -> None:
    status = signature_status(GOOD.replace(b"GOODSIG", b"EXPKEYSIG"))
    assert not status.valid
    assert status.problem == "the signing key has expired"


def test_an_expired_subkey_elsewhere_does_not_block_a_good_signature() -> None:
    status = signature_status(b"[GNUPG:] KEYEXPIRED 1700000000\n" + GOOD)
    assert status.valid


def test_revoked_signing_key_is_refused() -> None:
    status = signature_status(GOOD.replace(b"GOODSIG", b"REVKEYSIG"))
    assert status.problem == "the signing key has been revoked"


def test_iso_timestamps_are_understood() -> None:
    status = signature_status(GOOD.replace(b" 1795644528 0 4", b" 20261125T220848 0 4"))
    assert status.timestamp == 1795644528


def test_missing_public_key_is_named() -> None:
    text = b"[GNUPG:] NEWSIG\n[GNUPG:] ERRSIG A5E19817421111EB 22 8 01 1795644528 9 -\n"
    assert signature_status(text).problem == "unverifiable signature (no public key for it)"


def test_goodsig_and_validsig_must_name_the_same_key() -> None:
    status = signature_status(
        GOOD.replace(b"GOODSIG A5E19817421111EB", b"GOODSIG D073EE2C567CE7FD")
    )
    assert not status.valid


def test_a_key_signature_is_not_a_signature_over_a_command() -> None:
    status = signature_status(GOOD.replace(b" 8 00 ", b" 8 13 "))
    assert not status.valid
    assert "class 13" in (status.problem or "")


def test_a_good_signature_with_a_failing_gpg_is_not_valid() -> None:
    assert not signature_status(GOOD, returncode=2).valid


def test_several_plaintexts_are_refused() -> None:
    two = b"[GNUPG:] PLAINTEXT 62 0 \n[GNUPG:] PLAINTEXT 62 0 \n"
    status = signature_status(two + GOOD)
    assert status.problem == "2 pieces of data where one is accepted"


def test_an_error_line_fails_the_verification() -> None:
    status = signature_status(b"[GNUPG:] ERROR proc_pkt.plaintext 89_BAD_DATA\n" + GOOD)
    assert not status.valid


def test_subkey_signature_reports_both_fingerprints() -> None:
    line = f"VALIDSIG {SUBKEY} 2026-11-25 1795644528 0 4 0 22 8 00 {FPR}".encode()
    good = GOOD.replace(b"GOODSIG A5E19817421111EB", b"GOODSIG D073EE2C567CE7FD")
    status = signature_status(good.replace(GOOD.split(b"\n")[4], b"[GNUPG:] " + line))
    assert status.valid
    assert (status.signing_fingerprint, status.primary_fingerprint) == (SUBKEY, FPR)
