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

from mailsh_acme.certificate import check_certificate, pem_not_after
from provision import acme
from provision.config import Settings
from provision.dns.propagation import authoritative_servers, wait_for_txt
from provision.dns.provider import DnsProvider
from provision.dns.registry import make_provider
from provision.errors import ConfigError
from provision.render import site_names
from provision.state import StateDir, install_certificate

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CertResult:
    issued: bool
    reason: str
    not_after: dt.datetime | None
    seconds: float = 0.0


def dns_provider(settings: Settings, environ: Mapping[str, str]) -> DnsProvider:
    """The provider that publishes the challenge records (the one `dns-update` uses)."""
    provider = make_provider(settings, environ)
    if provider is None:
        raise ConfigError(
            f'dns.provider = "{settings.dns.provider}" cannot publish ACME DNS-01 challenges',
            hint="set [dns] provider to one that publishes through an API, like rfc2136",
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
        return CertResult(False, check.reason, pem_not_after(current) if current else None)
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
        one_at_a_time=provider.capabilities.serial_challenges,
    )
    state.ensure()
    install_certificate(state, issued.fullchain_pem, issued.key_pem)
    return CertResult(True, reason, issued.not_after, time.monotonic() - started)
