"""A request is one signed statement: who signed which text, when. Neither another
encoding of its signature's numbers nor a carriage return slipped into a text-mode
signed part may make it run again, or run something else (real gpg, real sandbox)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from mailsh_server import verify
from tests.attacks import (
    P256_ORDER,
    guarded,
    reencoded_signature,
    rsa_modulus,
    text_mode_request,
)
from tests.fixtures.gpg import ECDSA_USER, RSA_USER, GpgKeys
from tests.handler_server import Server, stream
from tests.mail_clients import entity, mail, pgp_mime
from tests.requests_corpus import address, plain


def _re_encodings(keys: GpgKeys, algorithm: str) -> list[Callable[[int], int]]:
    if algorithm == "rsa":  # s + k*n for any k: as many copies as the mail can hold
        n = rsa_modulus(keys, keys.rsa)
        return [lambda s, k=k: s + k * n for k in (1, 2, 3)]  # type: ignore[misc]
    return [lambda s: P256_ORDER - s]  # ECDSA: (r, n - s)


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa"])
def test_a_signature_re_encoded_as_other_numbers_is_a_replay(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path, algorithm: str
) -> None:
    fpr, sender = (gpg_keys.rsa, RSA_USER) if algorithm == "rsa" else (gpg_keys.ecdsa, ECDSA_USER)
    counter = tmp_path / "count"
    clear = gpg_keys.signer.sign(f"echo run >> {counter}\n".encode(), fpr, "clearsign")
    first = server.handle(address(plain(clear.decode()), sender=sender))
    assert first.result == "accepted", first.log_line

    copies = [reencoded_signature(gpg_keys, clear, s) for s in _re_encodings(gpg_keys, algorithm)]
    outcomes = [server.handle(address(plain(c.decode()), sender=sender)) for c in copies]

    assert counter.read_text() == "run\n"
    # gpg verified each copy (the replay check comes after the signature's): refused as such
    assert [o.reason for o in outcomes] == ["replay of an already accepted request"] * len(copies)


def test_one_key_signing_one_text_twice_in_one_second_runs_it_once(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    text = f"echo run >> {counter}\n".encode()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    clear = gpg_keys.signer.sign(text, gpg_keys.alice, "clearsign", faked=now)
    opaque = gpg_keys.signer.sign(text, gpg_keys.alice, "opaque", faked=now)
    later = gpg_keys.signer.sign(
        text, gpg_keys.alice, "clearsign", faked=now + dt.timedelta(seconds=1)
    )

    outcomes = [server.handle(address(plain(s.decode()))) for s in (clear, opaque, later)]

    assert [o.result for o in outcomes] == ["accepted", "refused", "accepted"]
    assert "replay" in outcomes[1].reason
    assert counter.read_text() == "run\n" * 2


def test_a_text_mode_signed_request_runs_as_signed(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    outcome = server.handle(text_mode_request(gpg_keys, guarded(str(marker))))
    assert outcome.result == "accepted", outcome.log_line
    assert stream(server.sent[0][0], "stdout") == "done\n"
    assert not marker.exists()


@pytest.mark.parametrize(
    ("signed", "flowed", "line_end"),
    [
        # A CR before the line end ends bash's `\` continuation: the guard would not hold.
        ("guarded", False, b"&& \\\r\n"),
        # format=flowed: a CR after the soft break's space hides it; two commands, not one.
        ("flowed", True, b"&& \r\n"),
    ],
    ids=["line continuation", "flowed soft break"],
)
def test_a_carriage_return_added_in_transit_is_refused_though_the_signature_holds(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path, signed: str, flowed: bool, line_end: bytes
) -> None:
    # A text signature's hash trims each line's trailing CRs: the CRs an attacker on the
    # mail's path adds leave it good.
    victim = tmp_path / "victim"
    victim.mkdir()
    text = (
        guarded(str(victim / "marker"))
        if signed == "guarded"
        else f"test -e /none && \r\nrm -rf {victim}\r\n"
    )
    raw = text_mode_request(gpg_keys, text, flowed)
    assert raw.count(line_end) == 1
    outcome = server.handle(raw.replace(line_end, line_end[:-2] + b"\r\r\r\n"))
    assert outcome.result == "refused"
    assert "carriage return" in outcome.reason
    assert victim.exists() and not (victim / "marker").exists()


def test_a_carriage_return_encoded_into_the_signed_text_is_refused(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    part = entity(
        [
            "Content-Type: text/plain; charset=us-ascii",
            "Content-Transfer-Encoding: quoted-printable",
        ],
        f"test -e /nonexistent/ready && \\=0D\r\n  touch {marker}\r\n".encode(),
    )
    signature_headers = ['Content-Type: application/pgp-signature; name="signature.asc"']
    outcome = server.handle(mail(pgp_mime(gpg_keys, part, signature_headers), "mailsh"))
    assert outcome.result == "refused"
    assert "carriage return" in outcome.reason
    assert not marker.exists()


def test_a_request_journaled_before_the_upgrade_is_still_a_replay(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = tmp_path / "count"
    raw = address(
        plain(
            gpg_keys.signer.sign(
                f"echo run >> {counter}\n".encode(), gpg_keys.alice, "clearsign"
            ).decode()
        )
    )
    with monkeypatch.context() as older:  # journaled by a mailsh that keyed on SIG_ID
        older.setattr(verify, "request_digest", lambda status, _text: verify.legacy_digest(status))
        assert server.handle(raw).result == "accepted"
    outcome = server.handle(raw)
    assert outcome.reason == "replay of an already accepted request"
    assert counter.read_text() == "run\n"
