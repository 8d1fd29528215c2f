"""`invoke certs` and `tls.mode = "acme"`: issue when missing, renew when due, else nothing.

The decision is a pure function of the current certificate, the names and the
time; the ACME exchange is provision/acme.py; the new key and chain replace
the old ones atomically only once the CA has issued them, so a failed run
leaves the previous certificate in place.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography import x509

from provision import acme
from provision.config import Settings
from provision.dns.propagation import authoritative_servers, wait_for_txt
from provision.dns.provider import DnsProvider
from provision.dns.publish import make_provider
from provision.errors import ConfigError
from provision.render import site_names
from provision.state import StateDir, install_certificate

Progress = Callable[[str], None]

RENEW_BEFORE_DAYS = 30


@dataclass(frozen=True)
class CertCheck:
    """Whether a certificate must be (re)issued, and the sentence that says why."""

    due: bool
    reason: str


@dataclass(frozen=True)
class CertResult:
    issued: bool
    reason: str
    not_after: dt.datetime | None
    seconds: float = 0.0


def check_certificate(cert_pem: bytes | None, names: list[str], now: dt.datetime) -> CertCheck:
    """Due when missing, self-signed, not covering `names`, or within 30 days of expiry."""
    if cert_pem is None:
        return CertCheck(True, "no certificate yet")
    cert = x509.load_pem_x509_certificate(cert_pem)
    if cert.issuer == cert.subject:
        return CertCheck(True, "the current certificate is self-signed")
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        have = set(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        have = set()
    if have != set(names):
        return CertCheck(True, f"the certificate covers {', '.join(sorted(have)) or 'no name'}")
    left = cert.not_valid_after_utc - now
    until = cert.not_valid_after_utc.strftime("%Y-%m-%d")
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
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    covers = set(san.get_values_for_type(x509.DNSName)) == set(names)
    return cert.issuer != cert.subject and covers and cert.not_valid_after_utc > now


def dns_provider(settings: Settings, environ: Mapping[str, str]) -> DnsProvider:
    """The provider that publishes the challenge records (the one `dns-update` uses)."""
    provider = make_provider(settings, environ)
    if provider is None:
        raise ConfigError(
            f'dns.provider = "{settings.dns.provider}" cannot publish ACME DNS-01 challenges',
            hint='set [dns] provider = "rfc2136" or "duckdns"',
        )
    return provider


def authoritative_waiter(settings: Settings) -> acme.WaitPublished:
    """Wait until every authoritative server of the name answers the value (bounded)."""

    def wait(name: str, value: str, progress: Progress) -> None:
        servers = authoritative_servers(name, settings.dns.nameservers)
        where = ", ".join(f"{host}:{port}" for host, port in servers)
        progress(f"waiting until {where} answer{'s' if len(servers) == 1 else ''} TXT {name}")
        took = wait_for_txt(name, [value], servers, settings.dns.propagation_timeout_s, progress)
        progress(f"TXT {name} visible on every authoritative server after {took:.1f} s")

    return wait


def ensure_acme_certificate(
    settings: Settings,
    environ: Mapping[str, str],
    progress: Progress,
    force: bool = False,
    provider: DnsProvider | None = None,
    wait_published: acme.WaitPublished | None = None,
    now: dt.datetime | None = None,
) -> CertResult:
    """Issue or renew the certificate for the site names when due (or forced)."""
    state = StateDir(settings.state_dir.resolve())
    names = site_names(settings)
    current = state.cert_file.read_bytes() if state.cert_file.exists() else None
    check = check_certificate(current, names, now or dt.datetime.now(dt.UTC))
    if not check.due and not force:
        return CertResult(False, check.reason, certificate_not_after(current) if current else None)
    reason = "--force" if not check.due else check.reason
    progress(f"requesting a certificate for {', '.join(names)} ({reason})")
    started = time.monotonic()
    provider = provider or dns_provider(settings, environ)
    account_key = acme.load_account_key(state.acme_account_key)
    client = acme.connect(settings.acme, account_key)
    issued = acme.issue_certificate(
        client,
        account_key,
        names,
        provider,
        wait_published or authoritative_waiter(settings),
        progress,
        # DuckDNS holds one TXT for the name and all below it: one challenge at a time.
        one_at_a_time=settings.dns.provider == "duckdns",
    )
    state.ensure()
    install_certificate(state, issued.fullchain_pem, issued.key_pem)
    return CertResult(True, reason, issued.not_after, time.monotonic() - started)


def certificate_not_after(cert_pem: bytes) -> dt.datetime:
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc
