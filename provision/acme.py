"""ACME DNS-01 certificates (RFC 8555) with certbot's `acme` library (docs/ARCHITECTURE.md §5).

The account key is made once and kept in the state dir. For each name of an
order, `_acme-challenge.<name>` gets its TXT value through the DNS provider;
once every authoritative server answers it, the challenge is answered, the
authorization polled, and the order finalized. The challenge record is then
put back as it was (removed, or DuckDNS's single TXT restored), even when
the order failed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from acme import challenges, crypto_util, messages
from acme import client as acme_client
from acme import errors as acme_errors
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.jwk import JWKRSA

from provision.acme_failures import AcmeError, acme_failures
from provision.config import AcmeSettings
from provision.dns.provider import DnsProvider, Record
from provision.errors import MailshError
from provision.files import ensure_private_key

Progress = Callable[[str], None]
# Returns once every authoritative server answers `value` at `name`; raises MailshError if not.
WaitPublished = Callable[[str, str, Progress], None]

ORDER_TIMEOUT_S = 300
CHALLENGE_TTL = 60
USER_AGENT = "mailsh (certbot acme library)"


@dataclass(frozen=True)
class Challenge:
    """One DNS-01 challenge: the TXT record that proves control of `identifier`."""

    identifier: str
    record_name: str
    value: str
    body: messages.ChallengeBody
    authorization: messages.AuthorizationResource


@dataclass(frozen=True)
class IssuedCertificate:
    fullchain_pem: bytes
    key_pem: bytes

    @property
    def not_after(self) -> dt.datetime:
        return x509.load_pem_x509_certificate(self.fullchain_pem).not_valid_after_utc


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
    url = settings.directory_url
    net = acme_client.ClientNetwork(account_key, user_agent=USER_AGENT)
    if settings.ca_bundle is not None:
        if not settings.ca_bundle.is_file():
            raise AcmeError(f"acme.ca_bundle: no such file {settings.ca_bundle}")
        # requests takes a CA bundle path where acme's verify_ssl is typed bool.
        net.verify_ssl = str(settings.ca_bundle)  # type: ignore[assignment]
    with acme_failures("ACME directory", url):
        directory = acme_client.ClientV2.get_directory(url, net)
        client = acme_client.ClientV2(directory, net)
        terms = directory.meta.terms_of_service
        if terms and not settings.agree_tos:
            raise AcmeError(
                f"the ACME server asks to agree to its terms of service: {terms}",
                hint="read them and set [acme] agree_tos = true",
            )
        registration = messages.NewRegistration.from_data(
            email=settings.email, terms_of_service_agreed=bool(terms)
        )
        try:
            client.new_account(registration)
        except acme_errors.ConflictError as e:
            # The key is already registered: use that account.
            net.account = messages.RegistrationResource(
                uri=e.location, body=messages.Registration()
            )
    return client


def new_certificate_key() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def dns_challenges(order: messages.OrderResource, account_key: JWKRSA) -> list[Challenge]:
    """The DNS-01 challenges of an order's pending authorizations."""
    found = []
    for authz in order.authorizations:
        if authz.body.status == messages.STATUS_VALID:
            continue
        name = authz.body.identifier.value
        dns01 = [c for c in authz.body.challenges if isinstance(c.chall, challenges.DNS01)]
        if not dns01:
            raise AcmeError(f"the ACME server offers no dns-01 challenge for {name}")
        challb = dns01[0]
        found.append(
            Challenge(
                identifier=name,
                record_name=challb.chall.validation_domain_name(name),
                value=challb.chall.validation(account_key),
                body=challb,
                authorization=authz,
            )
        )
    return found


def challenge_batches(items: list[Challenge], one_at_a_time: bool) -> list[list[Challenge]]:
    """All challenges together, or one by one when the provider keeps a single TXT."""
    if one_at_a_time:
        return [[c] for c in items]
    return [items] if items else []


def issue_certificate(
    client: acme_client.ClientV2,
    account_key: JWKRSA,
    names: list[str],
    provider: DnsProvider,
    wait_published: WaitPublished,
    progress: Progress,
    one_at_a_time: bool = False,
    timeout_s: float = ORDER_TIMEOUT_S,
) -> IssuedCertificate:
    """Order a certificate for `names`, solve DNS-01 through `provider`, finalize."""
    deadline = time.monotonic() + timeout_s
    url = client.directory.newOrder
    key_pem = new_certificate_key()
    csr_pem = crypto_util.make_csr(key_pem, names)
    with acme_failures("ACME order", url):
        order = client.new_order(csr_pem)
    for batch in challenge_batches(dns_challenges(order, account_key), one_at_a_time):
        _solve(client, account_key, batch, provider, wait_published, progress, deadline)
    progress(f"finalizing the order for {', '.join(names)}")
    with acme_failures("ACME finalization", url):
        fullchain = _finalize(client, order, deadline)
    return IssuedCertificate(fullchain.encode(), key_pem)


def _finalize(client: acme_client.ClientV2, order: messages.OrderResource, deadline: float) -> str:
    """Finalize and download the chain, polling briefly (the library's own poll waits a
    whole second before it first looks, most of an issuance in the lab)."""
    try:
        order = client.begin_finalization(order)
    except messages.Error as e:
        if e.code != "orderNotReady":
            raise
    delay = 0.05
    while True:
        body = order.body
        if body.status == messages.STATUS_VALID and body.certificate is not None:
            return str(_post_as_get(client, body.certificate).text)
        if body.status == messages.STATUS_INVALID:
            if body.error is not None:
                raise acme_errors.IssuanceError(body.error)
            raise acme_errors.Error("the order became invalid without a reason")
        if time.monotonic() > deadline:
            raise acme_errors.TimeoutError()
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
        if body.status == messages.STATUS_READY:
            order = client.begin_finalization(order)
        else:
            response = _post_as_get(client, order.uri)
            order = order.update(body=messages.Order.from_json(response.json()))


def _post_as_get(client: acme_client.ClientV2, url: str) -> requests.Response:
    """A POST-as-GET (RFC 8555 §6.3) through the client's network and nonces."""
    return client.net.post(url, None, new_nonce_url=client.directory["newNonce"])


def _solve(
    client: acme_client.ClientV2,
    account_key: JWKRSA,
    batch: list[Challenge],
    provider: DnsProvider,
    wait_published: WaitPublished,
    progress: Progress,
    deadline: float,
) -> None:
    """Publish, wait, answer and poll one batch; then put the records back as they were."""
    previous: dict[str, tuple[str, ...]] = {}
    try:
        for ch in batch:
            before = provider.read(ch.record_name, "TXT")
            progress(f"publishing TXT {ch.record_name} through {provider.name}")
            provider.set(Record(ch.record_name, "TXT", (ch.value,), ttl=CHALLENGE_TTL))
            previous[ch.record_name] = before
        for ch in batch:
            wait_published(ch.record_name, ch.value, progress)
        url = client.directory.newOrder
        with acme_failures("ACME challenge", url):
            for ch in batch:
                client.answer_challenge(ch.body, ch.body.response(account_key))
            for ch in batch:
                _poll_authorization(client, ch, progress, deadline)
    finally:
        for name, values in previous.items():
            _restore(provider, name, values, progress)


def _poll_authorization(
    client: acme_client.ClientV2, ch: Challenge, progress: Progress, deadline: float
) -> None:
    authz = ch.authorization
    delay = 0.1
    while True:
        authz, _ = client.poll(authz)
        status = authz.body.status
        if status == messages.STATUS_VALID:
            progress(f"{ch.identifier}: challenge accepted")
            return
        if status != messages.STATUS_PENDING:
            raise acme_errors.ValidationError([authz])
        if time.monotonic() > deadline:
            raise acme_errors.TimeoutError()
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _restore(provider: DnsProvider, name: str, values: tuple[str, ...], progress: Progress) -> None:
    """Put a challenge name back; a failure here is reported, never hides the real error."""
    try:
        if values:
            provider.set(Record(name, "TXT", values))
        else:
            provider.delete(name, "TXT")
    except MailshError as e:
        progress(f"warning: could not restore TXT {name}: {e}")
