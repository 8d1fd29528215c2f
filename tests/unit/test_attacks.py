"""Attacks on the request handler (real gpg, real journal, real sandbox): nothing runs
unless a trusted key signed exactly that text, once; every mail ends in a decision."""

from __future__ import annotations

import datetime as dt
import resource
import time
from collections.abc import Callable
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailsh_server import handler as handler_module
from mailsh_server.journal import ReplayJournal
from tests.attacks import (
    LINE_SEPARATORS,
    compression_bomb_mail,
    deep_multipart,
    eight_bit_clearsign,
    forged_status_in_armor_header,
    forged_status_in_file_name,
    many_parts,
    pgp_mime_reencodings,
    reencodings,
    text_signature_variants,
)
from tests.fixtures.gpg import DAVE, DAVE_REVOKED, GpgKeys, SignMode
from tests.handler_server import Server, stream
from tests.requests_corpus import address, encrypted_request, plain, request


@pytest.mark.parametrize("separator", LINE_SEPARATORS, ids=["U+2028", "U+0085"])
@pytest.mark.parametrize(
    "forge",
    [forged_status_in_armor_header, forged_status_in_file_name],
    ids=["armor header", "file name"],
)
def test_status_lines_forged_in_text_gpg_echoes_run_nothing(
    server: Server,
    gpg_keys: GpgKeys,
    tmp_path: Path,
    separator: str,
    forge: Callable[[GpgKeys, str, str], bytes],
) -> None:
    marker = tmp_path / "marker"
    outcome = server.handle(forge(gpg_keys, f"touch {marker}\n", separator))
    assert outcome.result == "refused"
    assert not marker.exists()


def test_every_reencoding_of_one_signature_runs_once(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    outcomes = [
        (name, server.handle(raw))
        for name, raw in reencodings(gpg_keys, f"echo run >> {counter}\n")
    ]
    # Two signatures: the clear-signed one and the opaque one; each runs once.
    accepted = [name for name, o in outcomes if o.result == "accepted"]
    assert accepted == ["clear-signed, LF", "opaque, armored"], outcomes
    assert counter.read_text() == "run\n" * 2
    for name, outcome in outcomes:
        if name not in accepted:
            assert "replay" in outcome.reason, (name, outcome.log_line)


def test_a_rewritten_literal_packet_is_the_same_request(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    variants = text_signature_variants(gpg_keys, f"echo run >> {counter}\necho two\n")
    results = [server.handle(raw).result for _, raw in variants]
    assert results == ["accepted", "refused", "refused", "refused"]
    assert counter.read_text() == "run\n"


def test_a_pgp_mime_signature_in_a_new_wrapping_is_a_replay(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    results = [
        server.handle(raw).result
        for _, raw in pgp_mime_reencodings(gpg_keys, f"echo run >> {counter}\n")
    ]
    assert results == ["accepted", "refused"]
    assert counter.read_text() == "run\n"


def test_trailing_blanks_added_to_a_clear_signed_text_do_not_change_what_runs(
    server: Server, gpg_keys: GpgKeys
) -> None:
    (_, blanks) = next(v for v in reencodings(gpg_keys, "echo a \\\necho b\n") if "blanks" in v[0])
    outcome = server.handle(blanks)
    assert outcome.result == "accepted", outcome.log_line
    assert stream(server.sent[0][0], "stdout") == "a echo b\n"


def test_a_compression_bomb_is_refused_quickly_with_bounded_memory(
    server: Server, bomb_mail: bytes
) -> None:
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    outcome = server.handle(bomb_mail)
    elapsed = time.monotonic() - started
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert outcome.result == "refused"
    assert elapsed < 2.0
    assert grown_kib < 100 * 1024
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 300 * 1024


@pytest.fixture(scope="session")
def bomb_mail() -> bytes:
    return compression_bomb_mail(gib=1)


def test_deeply_nested_mime_is_refused_at_once(server: Server) -> None:
    started = time.monotonic()
    outcome = server.handle(deep_multipart(1500))
    assert outcome.result == "refused"
    assert "MIME" in outcome.reason
    assert time.monotonic() - started < 1.0


def test_a_subject_of_a_hundred_thousand_encoded_words_is_read_at_once(
    server: Server, gpg_keys: GpgKeys
) -> None:
    # postfix cuts headers at 100 KB; the handler must not rely on it (1.7 MB took 13 s).
    words = "=?utf-8?q?=C3=A9?= " * 120_000
    raw = request(gpg_keys, "clearsign", "echo hi\n").replace(
        b"Subject: ", f"Subject: {words}".encode(), 1
    )
    started = time.monotonic()
    outcome = server.handle(raw)
    assert time.monotonic() - started < 2.0
    assert outcome.result == "accepted", outcome.log_line
    assert str(server.sent[0][0]["Subject"]).endswith("é" * 20)


def test_thousands_of_parts_are_refused(server: Server) -> None:
    outcome = server.handle(many_parts(5000))
    assert outcome.result == "refused"
    assert "MIME" in outcome.reason


def test_a_mail_the_parser_fails_on_is_refused_not_retried(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    def choke(raw: bytes, limit: int) -> object:
        raise LookupError("unknown encoding: x-hostile")

    monkeypatch.setattr(handler_module, "parse_request", choke)
    outcome = server.handle(b"From: a@b.example\n\nhello\n")
    assert outcome.result == "refused"
    assert "unreadable mail" in outcome.reason


def test_an_eight_bit_clear_signed_command_runs(server: Server, gpg_keys: GpgKeys) -> None:
    outcome = server.handle(eight_bit_clearsign(gpg_keys, "echo héllo\n"))
    assert outcome.result == "accepted", outcome.log_line
    assert stream(server.sent[0][0], "stdout") == "héllo\n"


@pytest.mark.parametrize("fmt", ["pgp-mime", "attachment", "uuencode"])
def test_an_eight_bit_command_runs_in_every_format(
    server: Server, gpg_keys: GpgKeys, fmt: str
) -> None:
    outcome = server.handle(request(gpg_keys, fmt, f"echo 'héllo {fmt}'\n"))  # type: ignore[arg-type]
    assert outcome.result == "accepted", outcome.log_line
    assert stream(server.sent[0][0], "stdout") == f"héllo {fmt}\n"


def test_hostile_subject_and_message_id_reach_the_reply_tamed(
    server: Server, gpg_keys: GpgKeys
) -> None:
    raw = request(gpg_keys, "clearsign", "true\n")
    raw = raw.replace(b"Subject: mailsh request", b"Subject: " + "x\u2028y".encode() + b"\xff" * 3)
    outcome = server.handle(raw)
    assert outcome.result == "accepted", outcome.log_line
    subject = str(server.sent[0][0]["Subject"])
    assert "\u2028" not in subject
    assert subject.startswith("Re: x")


def test_a_revoked_user_id_is_not_a_reply_address(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    signed = gpg_keys.signer.sign(f"touch {marker}\n".encode(), gpg_keys.dave, "clearsign")
    outcome = server.handle(address(plain(signed.decode()), sender=DAVE_REVOKED))
    assert outcome.result == "refused"
    assert "not on the signing key" in outcome.reason
    assert not marker.exists()


def test_an_expired_subkey_does_not_block_the_primary_keys_signature(
    server: Server, gpg_keys: GpgKeys
) -> None:
    signed = gpg_keys.signer.sign(b"echo fine\n", gpg_keys.dave, "clearsign")
    outcome = server.handle(address(plain(signed.decode()), sender=DAVE))
    assert outcome.result == "accepted", outcome.log_line


def test_a_signature_by_an_expired_subkey_is_refused(
    gpg_keys: GpgKeys, journal: ReplayJournal, tmp_path: Path
) -> None:
    server = Server(gpg_keys, journal, max_age_s=86400)
    marker = tmp_path / "marker"
    when = gpg_keys.dave_made + dt.timedelta(minutes=2)  # the subkey was valid then
    signed = gpg_keys.signer.sign(
        f"touch {marker}\n".encode(), gpg_keys.dave_expired_subkey, "clearsign", faked=when
    )
    outcome = server.handle(address(plain(signed.decode()), sender=DAVE))
    assert outcome.result == "refused"
    assert "expired" in outcome.reason
    assert not marker.exists()


def test_a_signed_mime_entity_is_not_run_as_a_command(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    entity = f'Content-Type: text/plain; charset="utf-8"\n\ntouch {marker}\n'
    outcome = server.handle(request(gpg_keys, "attachment", entity))
    assert outcome.result == "refused"
    assert "MIME entity" in outcome.reason
    assert not marker.exists()


def test_an_encrypted_request_gets_a_reply_that_shows_nothing_outside(
    gpg_keys: GpgKeys, keyed_server: Server
) -> None:
    server = keyed_server
    raw = encrypted_request(gpg_keys, "echo secret-output\n", subject="mailsh: echo secret")
    assert b"secret" not in raw
    outcome = server.handle(raw)
    assert outcome.result == "accepted", outcome.log_line
    reply, _ = server.sent[0]
    outside = str(reply).split("\n\n", 1)[0]
    assert "secret" not in outside
    assert "X-Mailsh" not in outside
    assert reply["Subject"] == "..."
    sealed = list(reply.iter_parts())[1].get_payload(decode=True)
    inner = message_from_bytes(gpg_keys.signer.run("--decrypt", data=sealed))
    assert inner["Subject"] == "Re: mailsh: echo secret"
    assert inner["X-Mailsh-Result"] == "done"
    assert inner.get_param("protected-headers") == "v1"


def test_an_inline_signed_and_encrypted_request_gets_an_encrypted_reply(
    gpg_keys: GpgKeys, keyed_server: Server
) -> None:
    server = keyed_server
    sealed = gpg_keys.signer.run(
        "--armor",
        "--trust-model",
        "always",
        "--local-user",
        gpg_keys.alice,
        "--recipient",
        gpg_keys.server_key,
        "--sign",
        "--encrypt",
        data=b"echo inline-secret\n",
    )
    outcome = server.handle(address(plain(sealed.decode())))
    assert outcome.result == "accepted", outcome.log_line
    reply, _ = server.sent[0]
    assert reply.get_content_type() == "multipart/encrypted"
    assert b"inline-secret" not in reply.as_bytes()


def test_a_passphrase_encrypted_message_is_refused_without_asking_anyone(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    sym = gpg_keys.signer.run(
        "--armor", "--symmetric", "--passphrase", "pw", data=f"touch {marker}\n".encode()
    )
    started = time.monotonic()
    outcome = server.handle(address(plain(sym.decode())))
    assert outcome.result == "refused"
    assert time.monotonic() - started < 2.0
    assert not marker.exists()


def test_a_hostile_from_address_gets_no_reply_and_no_retry(
    gpg_keys: GpgKeys, journal: ReplayJournal
) -> None:
    """Found by the fuzzer: a vertical tab in From broke the refusal notice's To header."""
    server = Server(gpg_keys, journal, reply_on_reject=True)
    raw = b"From:\x0b alice@client.example\nSubject: x\n\nhello\n"
    outcome = server.handle(raw)
    assert outcome.result == "refused"
    assert server.sent == []


def _flowed_outer_part(signed: bytes) -> EmailMessage:
    """An unsigned text/plain part that says format=flowed around signed data."""
    msg = EmailMessage()
    msg.set_content(signed.decode(), cte="7bit")
    msg.set_param("format", "flowed")
    msg.set_param("delsp", "yes")
    return msg


@pytest.mark.parametrize("mode", ["clearsign", "opaque"])
def test_format_flowed_outside_the_signature_does_not_join_signed_lines(
    server: Server, gpg_keys: GpgKeys, mode: SignMode
) -> None:
    signed = gpg_keys.signer.sign(b"echo a \necho b\n", gpg_keys.alice, mode)
    outcome = server.handle(address(_flowed_outer_part(signed)))
    assert outcome.result == "accepted", outcome.log_line
    assert stream(server.sent[0][0], "stdout") == "a\nb\n"


def test_quoted_lines_of_a_signed_reply_never_run(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    text = f"echo new\n\nOn Mon, root@mailsh.localdomain wrote:\n> {marker}\n> touch {marker}\n"
    outcome = server.handle(request(gpg_keys, "pgp-mime", text))
    assert outcome.result == "accepted", outcome.log_line
    assert stream(server.sent[0][0], "stdout") == "new\n"
    assert not marker.exists()
