from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from provision.deliverability.dkim_check import dkim_outcome
from provision.deliverability.result import Status

NAME = "mail._domainkey.example.org"


def _p(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


KEY_2048 = _p(rsa.generate_private_key(public_exponent=65537, key_size=2048))
KEY_1024 = _p(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505


def test_record_with_the_servers_key_passes() -> None:
    outcome = dkim_outcome(NAME, [f"v=DKIM1; k=rsa; p={KEY_2048}"], KEY_2048)
    assert outcome.status == Status.PASS


def test_key_split_by_whitespace_still_matches() -> None:
    split = f"v=DKIM1; k=rsa; p={KEY_2048[:100]} {KEY_2048[100:]}"
    assert dkim_outcome(NAME, [split], KEY_2048).status == Status.PASS


def test_missing_record_fails_and_says_to_publish() -> None:
    outcome = dkim_outcome(NAME, [], KEY_2048)
    assert outcome.status == Status.FAIL
    assert "dns-update" in outcome.fix


def test_another_key_fails() -> None:
    outcome = dkim_outcome(NAME, [f"v=DKIM1; k=rsa; p={KEY_1024}"], KEY_2048)
    assert outcome.status == Status.FAIL
    assert "not the server's" in outcome.observed


def test_1024_bit_server_key_warns() -> None:
    assert dkim_outcome(NAME, [f"v=DKIM1; p={KEY_1024}"], KEY_1024).status == Status.WARN


def test_an_spf_value_at_the_dkim_name_fails() -> None:
    assert dkim_outcome(NAME, ["v=spf1 a mx -all"], KEY_2048).status == Status.FAIL


def test_garbage_key_fails() -> None:
    assert dkim_outcome(NAME, ["v=DKIM1; p=bm90IGEga2V5"], KEY_2048).status == Status.FAIL


def test_ec_key_is_not_accepted_as_rsa() -> None:
    ec_key = _p(ec.generate_private_key(ec.SECP256R1()))
    assert dkim_outcome(NAME, [f"v=DKIM1; p={ec_key}"], KEY_2048).status == Status.FAIL


def test_no_state_key_is_an_error_of_the_check() -> None:
    assert dkim_outcome(NAME, [f"v=DKIM1; p={KEY_2048}"], None).status == Status.ERROR
