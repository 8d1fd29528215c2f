"""When a certificate is issued or renewed: a pure decision over the PEM, names and time."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailsh_acme.certificate import check_certificate, still_usable

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
NAMES = ["mail.example.org", "mta-sts.example.org"]


def certificate(names: list[str], days_left: float, self_signed: bool = False) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    issuer = subject if self_signed else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=60))
        .not_valid_after(NOW + dt.timedelta(days=days_left))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_missing_certificate_is_due() -> None:
    assert check_certificate(None, NAMES, NOW).due


def test_self_signed_certificate_is_replaced() -> None:
    check = check_certificate(certificate(NAMES, 500, self_signed=True), NAMES, NOW)
    assert check.due
    assert "self-signed" in check.reason


def test_certificate_for_other_names_is_replaced() -> None:
    check = check_certificate(certificate(NAMES[:1], 80), NAMES, NOW)
    assert check.due
    assert check.reason == "the certificate covers mail.example.org"


def test_certificate_with_fewer_than_30_days_left_is_renewed() -> None:
    check = check_certificate(certificate(NAMES, 29.5), NAMES, NOW)
    assert check.due
    assert "29 days left" in check.reason


def test_certificate_with_more_than_30_days_left_is_kept_and_the_reason_says_so() -> None:
    check = check_certificate(certificate(NAMES, 60.5), NAMES, NOW)
    assert not check.due
    assert check.reason == (
        "the certificate is valid until 2026-07-31 (60 days left); "
        "it is renewed when fewer than 30 days remain"
    )


def test_a_ca_certificate_still_valid_is_usable_after_a_failed_renewal() -> None:
    assert still_usable(certificate(NAMES, days_left=10), NAMES, NOW)


def test_an_expired_self_signed_or_foreign_certificate_is_not_usable() -> None:
    assert not still_usable(None, NAMES, NOW)
    assert not still_usable(certificate(NAMES, days_left=-1), NAMES, NOW)
    assert not still_usable(certificate(NAMES, days_left=90, self_signed=True), NAMES, NOW)
    assert not still_usable(certificate(["other.example.org"], days_left=90), NAMES, NOW)
