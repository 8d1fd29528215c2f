"""When a certificate must be (re)issued: a pure function of the certificate, the names
and the time, shared by `invoke certs` and the server's renewer (same 30-day rule)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509

RENEW_BEFORE_DAYS = 30


@dataclass(frozen=True)
class CertCheck:
    """Whether a certificate must be (re)issued, and the sentence that says why."""

    due: bool
    reason: str


def not_after(cert: x509.Certificate) -> dt.datetime:
    """The expiry as an aware UTC datetime (cryptography < 42 has only the naive one)."""
    try:
        return cert.not_valid_after_utc
    except AttributeError:
        return cert.not_valid_after.replace(tzinfo=dt.UTC)


def pem_not_after(cert_pem: bytes) -> dt.datetime:
    return not_after(x509.load_pem_x509_certificate(cert_pem))


def _dns_names(cert: x509.Certificate) -> set[str] | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    return set(san.get_values_for_type(x509.DNSName))


def check_certificate(cert_pem: bytes | None, names: list[str], now: dt.datetime) -> CertCheck:
    """Due when missing, self-signed, not covering `names`, or within 30 days of expiry."""
    if cert_pem is None:
        return CertCheck(True, "no certificate yet")
    cert = x509.load_pem_x509_certificate(cert_pem)
    if cert.issuer == cert.subject:
        return CertCheck(True, "the current certificate is self-signed")
    have = _dns_names(cert) or set()
    if have != set(names):
        return CertCheck(True, f"the certificate covers {', '.join(sorted(have)) or 'no name'}")
    expires = not_after(cert)
    left = expires - now
    until = expires.strftime("%Y-%m-%d")
    if left < dt.timedelta(days=RENEW_BEFORE_DAYS):
        return CertCheck(True, f"the certificate expires on {until} ({left.days} days left)")
    return CertCheck(
        False,
        f"the certificate is valid until {until} ({left.days} days left); "
        f"it is renewed when fewer than {RENEW_BEFORE_DAYS} days remain",
    )


def still_usable(cert_pem: bytes | None, names: list[str], now: dt.datetime) -> bool:
    """A CA-issued certificate for `names` that has not expired: worth keeping when a
    renewal fails, so that a failed renewal does not stop the server."""
    if cert_pem is None:
        return False
    cert = x509.load_pem_x509_certificate(cert_pem)
    covers = _dns_names(cert) == set(names)
    return cert.issuer != cert.subject and covers and not_after(cert) > now
