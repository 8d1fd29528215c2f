"""One ACME DNS-01 order (RFC 8555) with certbot's `acme` library (DESIGN §5).

For each name of an order, `_acme-challenge.<name>` gets its TXT value through
a `ChallengeZone`; once every authoritative server answers it, the challenge is
answered, the authorization polled, and the order finalized. The challenge
record is then put back as it was (removed, or a single-TXT zone's value
restored), even when the order failed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import requests
from acme import challenges, crypto_util, messages
from acme import client as acme_client
from acme import errors as acme_errors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwk import JWKRSA

from mailsh_acme.certificate import pem_not_after
from mailsh_acme.failures import AcmeProblem, acme_failures

Progress = Callable[[str], None]
# Returns once every authoritative server answers `value` at `name`; raises if not.
WaitPublished = Callable[[str, str, Progress], None]

ORDER_TIMEOUT_S = 300
CHALLENGE_TTL = 60
RESTORED_TTL = 300
USER_AGENT = "mailsh (certbot acme library)"


class ChallengeZone(Protocol):
    """Where challenge TXT records are published; `errors` are the exception types its
    failures raise (a failure to restore a record is reported, not raised)."""

    name: str
    errors: tuple[type[Exception], ...]

    def read_txt(self, name: str) -> tuple[str, ...]: ...

    def set_txt(self, name: str, values: tuple[str, ...], ttl: int) -> None: ...

    def delete_txt(self, name: str) -> None: ...


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
        return pem_not_after(self.fullchain_pem)


def connect(
    directory_url: str,
    account_key: JWKRSA,
    email: str | None,
    agree_tos: bool,
    ca_bundle: str | None = None,
) -> acme_client.ClientV2:
    """Fetch the directory and register the account (or find the existing one)."""
    net = acme_client.ClientNetwork(account_key, user_agent=USER_AGENT)
    if ca_bundle is not None:
        # requests takes a CA bundle path where acme's verify_ssl is typed bool.
        net.verify_ssl = ca_bundle  # type: ignore[assignment]
    with acme_failures("ACME directory", directory_url):
        directory = acme_client.ClientV2.get_directory(directory_url, net)
        client = acme_client.ClientV2(directory, net)
        terms = directory.meta.terms_of_service
        if terms and not agree_tos:
            raise AcmeProblem(
                f"the ACME server asks to agree to its terms of service: {terms}",
                hint="read them and set [acme] agree_tos = true",
            )
        registration = messages.NewRegistration.from_data(
            email=email, terms_of_service_agreed=bool(terms)
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
            raise AcmeProblem(f"the ACME server offers no dns-01 challenge for {name}")
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
    """All challenges together, or one by one when the zone keeps a single TXT."""
    if one_at_a_time:
        return [[c] for c in items]
    return [items] if items else []


def issue_certificate(
    client: acme_client.ClientV2,
    account_key: JWKRSA,
    names: list[str],
    zone: ChallengeZone,
    wait_published: WaitPublished,
    progress: Progress,
    one_at_a_time: bool = False,
    timeout_s: float = ORDER_TIMEOUT_S,
) -> IssuedCertificate:
    """Order a certificate for `names`, solve DNS-01 through `zone`, finalize."""
    deadline = time.monotonic() + timeout_s
    url = client.directory.newOrder
    key_pem = new_certificate_key()
    csr_pem = crypto_util.make_csr(key_pem, names)
    with acme_failures("ACME order", url):
        order = client.new_order(csr_pem)
    for batch in challenge_batches(dns_challenges(order, account_key), one_at_a_time):
        _solve(client, account_key, batch, zone, wait_published, progress, deadline)
    progress(f"finalizing the order for {', '.join(names)}")
    with acme_failures("ACME finalization", url):
        fullchain = _finalize(client, order, deadline)
    return IssuedCertificate(fullchain.encode(), key_pem)


def _finalize(client: acme_client.ClientV2, order: messages.OrderResource, deadline: float) -> str:
    """Finalize and download the chain, polling briefly (the library's own poll waits a
    whole second before it first looks, most of an issuance in the lab)."""
    if not hasattr(client, "begin_finalization"):  # acme < 2.2 (Debian bookworm's 2.1)
        left = dt.timedelta(seconds=max(deadline - time.monotonic(), 1.0))
        # That version compares its deadline with the naive local time.
        done = client.finalize_order(order, dt.datetime.now() + left)
        return str(done.fullchain_pem)
    try:
        order = client.begin_finalization(order)
    except messages.Error as e:
        if e.code != "orderNotReady":
            raise
    pause = _pauses(0.05, deadline)
    while True:
        body = order.body
        if body.status == messages.STATUS_VALID and body.certificate is not None:
            return str(_post_as_get(client, body.certificate).text)
        if body.status == messages.STATUS_INVALID:
            if body.error is not None:
                raise acme_errors.IssuanceError(body.error)
            raise acme_errors.Error("the order became invalid without a reason")
        next(pause)
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
    zone: ChallengeZone,
    wait_published: WaitPublished,
    progress: Progress,
    deadline: float,
) -> None:
    """Publish, wait, answer and poll one batch; then put the records back as they were."""
    previous: dict[str, tuple[str, ...]] = {}
    try:
        for ch in batch:
            before = zone.read_txt(ch.record_name)
            progress(f"publishing TXT {ch.record_name} through {zone.name}")
            zone.set_txt(ch.record_name, (ch.value,), CHALLENGE_TTL)
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
            _restore(zone, name, values, progress)


def _poll_authorization(
    client: acme_client.ClientV2, ch: Challenge, progress: Progress, deadline: float
) -> None:
    authz = ch.authorization
    pause = _pauses(0.1, deadline)
    while True:
        authz, _ = client.poll(authz)
        status = authz.body.status
        if status == messages.STATUS_VALID:
            progress(f"{ch.identifier}: challenge accepted")
            return
        if status != messages.STATUS_PENDING:
            raise acme_errors.ValidationError([authz])
        next(pause)


def _pauses(first: float, deadline: float) -> Iterator[None]:
    """The waits between two polls of the ACME server: from `first`, doubling up to 2 s;
    acme's TimeoutError once `deadline` (monotonic) has passed."""
    delay = first
    while True:
        if time.monotonic() > deadline:
            raise acme_errors.TimeoutError()
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
        yield


def _restore(zone: ChallengeZone, name: str, values: tuple[str, ...], progress: Progress) -> None:
    """Put a challenge name back; a failure here is reported, never hides the real error."""
    try:
        if values:
            zone.set_txt(name, values, RESTORED_TTL)
        else:
            zone.delete_txt(name)
    except zone.errors as e:
        progress(f"warning: could not restore TXT {name}: {e}")
