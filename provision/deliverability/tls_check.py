"""TLS checks: the certificates on 443 and behind STARTTLS on 25 verify for the hostname,
against the configured CA bundle, with time left, over TLS >= 1.2."""

from __future__ import annotations

import datetime as dt
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from provision.deliverability.result import Outcome, Problem, Status, combine
from provision.deliverability.target import Endpoint, Target

GOOD_VERSIONS = ("TLSv1.2", "TLSv1.3")
Connect = Callable[[], socket.socket]


@dataclass(frozen=True)
class TlsObservation:
    version: str
    cert_der: bytes
    verify_error: str | None  # None when chain and name verified


def client_context(ca_bundle: Path | None, verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _handshake(connect: Connect, hostname: str, ctx: ssl.SSLContext) -> tuple[str, bytes]:
    with connect() as raw, ctx.wrap_socket(raw, server_hostname=hostname) as tls:
        der = tls.getpeercert(binary_form=True)
        return tls.version() or "unknown", der or b""


def observe_tls(connect: Connect, hostname: str, ca_bundle: Path | None) -> TlsObservation:
    """Handshake verifying chain and name; when that fails, again without, to see the cert."""
    try:
        version, der = _handshake(connect, hostname, client_context(ca_bundle, verify=True))
        return TlsObservation(version, der, None)
    except ssl.SSLCertVerificationError as e:
        error = str(e.verify_message or e.reason or e)
    version, der = _handshake(connect, hostname, client_context(ca_bundle, verify=False))
    return TlsObservation(version, der, error)


def _verify_fix(error: str, hostname: str) -> str:
    lowered = error.lower()
    if "expired" in lowered:
        return "renew it: `invoke certs --force`"
    if "hostname" in lowered or "ip address mismatch" in lowered:
        return f"issue a certificate naming {hostname}: `invoke certs`"
    return (
        'use a certificate from a public CA: tls.mode = "acme" and `invoke certs` '
        "(or point [deliverability] ca_bundle at your CA)"
    )


def judge_tls(obs: TlsObservation, hostname: str, now: dt.datetime, warn_days: int) -> Outcome:
    expected = f"valid for {hostname}, > {warn_days} days left, TLS >= 1.2"
    cert = x509.load_der_x509_certificate(obs.cert_der)
    days = (cert.not_valid_after_utc - now).total_seconds() / 86400
    issuer = cert.issuer.rfc4514_string()
    observed = f"{obs.version}, issuer {issuer}, {days:.0f} days left"
    problems = []
    if obs.verify_error is not None:
        problems.append(
            Problem(
                Status.FAIL,
                f"does not verify: {obs.verify_error}",
                _verify_fix(obs.verify_error, hostname),
            )
        )
    if days <= 0:
        problems.append(Problem(Status.FAIL, "expired", "renew it: `invoke certs --force`"))
    elif days <= warn_days:
        problems.append(
            Problem(Status.WARN, f"expires in {days:.1f} days", "renew it: `invoke certs`")
        )
    if obs.version not in GOOD_VERSIONS:
        problems.append(
            Problem(Status.FAIL, f"negotiated {obs.version}", "allow only TLS 1.2 and newer")
        )
    return combine(problems, observed, expected)


def _tcp(endpoint: Endpoint, timeout: float) -> Connect:
    return lambda: socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)


def _starttls(endpoint: Endpoint, timeout: float) -> Connect:
    """A socket on which STARTTLS was accepted, ready for the TLS handshake."""

    def connect() -> socket.socket:
        smtp = smtplib.SMTP(timeout=timeout, local_hostname="tls-check.invalid")
        smtp.connect(endpoint.host, endpoint.port)
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            smtp.close()
            raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
        code, reply = smtp.docmd("STARTTLS")
        if code != 220:
            smtp.close()
            raise smtplib.SMTPResponseException(code, reply)
        assert smtp.sock is not None
        return smtp.sock

    return connect


def _check(connect: Connect, target: Target) -> Outcome:
    try:
        obs = observe_tls(connect, target.hostname, target.ca_bundle)
    except ssl.SSLError as e:
        return Outcome(
            Status.FAIL,
            f"TLS handshake for {target.hostname} failed: {e.reason or e}",
            f"a certificate for {target.hostname}",
            f"serve a certificate naming {target.hostname}: `invoke certs`",
        )
    return judge_tls(obs, target.hostname, target.now, target.cert_warn_days)


def check_tls_smtp(target: Target) -> Outcome:
    return _check(_starttls(target.smtp, target.timeout_s), target)


def check_tls_https(target: Target) -> Outcome:
    return _check(_tcp(target.https, target.timeout_s), target)
