from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provision.deliverability.result import Status
from provision.deliverability.tls_check import TlsObservation, judge_tls

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _cert_der(days_left: float) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.org")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=30))
        .not_valid_after(NOW + dt.timedelta(days=days_left))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def _judge(days_left: float, error: str | None = None, version: str = "TLSv1.3") -> Status:
    obs = TlsObservation(version, _cert_der(days_left), error)
    return judge_tls(obs, "mail.example.org", NOW, warn_days=14).status


def test_verified_cert_with_months_left_passes() -> None:
    assert _judge(60) == Status.PASS


def test_cert_expiring_within_14_days_warns() -> None:
    assert _judge(10) == Status.WARN


def test_expired_cert_fails() -> None:
    assert _judge(-1) == Status.FAIL


def test_unverified_chain_fails_and_suggests_acme() -> None:
    obs = TlsObservation("TLSv1.3", _cert_der(60), "self-signed certificate")
    outcome = judge_tls(obs, "mail.example.org", NOW, warn_days=14)
    assert outcome.status == Status.FAIL
    assert "invoke certs" in outcome.fix


def test_hostname_mismatch_suggests_a_certificate_naming_the_host() -> None:
    obs = TlsObservation("TLSv1.3", _cert_der(60), "Hostname mismatch, certificate is not valid")
    assert "naming mail.example.org" in judge_tls(obs, "mail.example.org", NOW, 14).fix


def test_tls_1_1_fails() -> None:
    assert _judge(60, version="TLSv1.1") == Status.FAIL
