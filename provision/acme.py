"""ACME DNS-01 certificates for `invoke certs`: the shared client (mailsh_acme) with the
config's values, the state's account key and the configured DNS provider.

The account key is made once and kept in the state dir; the order itself,
its challenges and their clean-up are mailsh_acme.order, which the server's
own renewer runs too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from acme import client as acme_client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from josepy.jwk import JWKRSA

from mailsh_acme import order
from mailsh_acme.order import Challenge, IssuedCertificate, WaitPublished, challenge_batches
from provision.acme_failures import AcmeError, as_acme_errors
from provision.config import AcmeSettings
from provision.dns.provider import DnsProvider, Record
from provision.errors import MailshError
from provision.files import ensure_private_key

__all__ = [
    "AcmeError",
    "Challenge",
    "IssuedCertificate",
    "ProviderZone",
    "WaitPublished",
    "challenge_batches",
    "connect",
    "issue_certificate",
    "load_account_key",
]

Progress = Callable[[str], None]


def load_account_key(path: Path) -> JWKRSA:
    """The account key, created (RSA 2048, 0600) on first use and reused afterwards."""
    try:
        key, _ = ensure_private_key(
            path,
            lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
            serialization.PrivateFormat.PKCS8,
        )
    except ValueError as e:
        raise AcmeError(
            f"{path}: not a readable private key ({e})",
            hint="restore it, or delete it to register a new ACME account",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AcmeError(f"{path}: the ACME account key must be an RSA key")
    return JWKRSA(key=key)


def connect(settings: AcmeSettings, account_key: JWKRSA) -> acme_client.ClientV2:
    """Fetch the directory and register the account (or find the existing one)."""
    bundle = settings.ca_bundle
    if bundle is not None and not bundle.is_file():
        raise AcmeError(f"acme.ca_bundle: no such file {bundle}")
    with as_acme_errors():
        return order.connect(
            settings.directory_url,
            account_key,
            settings.email,
            settings.agree_tos,
            str(bundle) if bundle is not None else None,
        )


class ProviderZone:
    """A DNS provider (provision.dns) as the shared client's ChallengeZone."""

    errors: tuple[type[Exception], ...] = (MailshError,)

    def __init__(self, provider: DnsProvider) -> None:
        self.provider = provider
        self.name = provider.name

    def read_txt(self, name: str) -> tuple[str, ...]:
        return self.provider.read(name, "TXT")

    def set_txt(self, name: str, values: tuple[str, ...], ttl: int) -> None:
        self.provider.set(Record(name, "TXT", values, ttl=ttl))

    def delete_txt(self, name: str) -> None:
        self.provider.delete(name, "TXT")


def issue_certificate(
    client: acme_client.ClientV2,
    account_key: JWKRSA,
    names: list[str],
    provider: DnsProvider,
    wait_published: WaitPublished,
    progress: Progress,
    one_at_a_time: bool = False,
) -> IssuedCertificate:
    """Order a certificate for `names`, solve DNS-01 through `provider`, finalize."""
    with as_acme_errors():
        return order.issue_certificate(
            client,
            account_key,
            names,
            ProviderZone(provider),
            wait_published,
            progress,
            one_at_a_time=one_at_a_time,
        )
