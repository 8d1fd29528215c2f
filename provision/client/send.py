"""`invoke send`: sign the command with the user's key (and seal it for the server's key),
mail it, and optionally wait for the reply and read it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email import policy
from email.message import Message

import docker
import gnupg

from mailsh_server.protocol import HIDDEN_SUBJECT
from provision.client.keys import signing_key
from provision.client.replies import Reply, read_reply
from provision.client.request_mail import (
    Format,
    address_message,
    build_request,
    encrypted_message,
    request_text,
)
from provision.client.server_key import ServerKey, load_server_key
from provision.client.transport import submission, submit, wait_imap, wait_local
from provision.config import Settings
from provision.errors import ClientError
from provision.render import catches_replies
from provision.state import StateDir

HASH_NAMES = {
    1: "md5",
    2: "sha1",
    3: "ripemd160",
    8: "sha256",
    9: "sha384",
    10: "sha512",
    11: "sha224",
}


def _signer(gpg: gnupg.GPG, fpr: str, passphrase: str | None) -> Callable[..., gnupg.Sign]:
    """gpg.sign with the key, failing with ClientError when gpg signs nothing."""

    def sign(data: bytes, **kw: object) -> gnupg.Sign:
        result = gpg.sign(data, keyid=fpr, passphrase=passphrase, **kw)
        if not result.data:
            raise ClientError(f"gpg could not sign: {result.stderr.strip()[-200:]}")
        return result

    return sign


def new_request_id() -> str:
    return secrets.token_urlsafe(12)


def signed_request(
    gpg: gnupg.GPG,
    fmt: Format,
    command: str,
    fpr: str,
    recipient: str,
    passphrase: str | None = None,
    request_id: str | None = None,
) -> Message:
    """The command signed with a binding to `recipient` and a fresh request id: the same
    command sent twice, even within one second, is two requests (two signatures)."""
    sign = _signer(gpg, fpr, passphrase)

    def detached(data: bytes) -> tuple[bytes, str]:
        result = sign(data, detach=True)
        return bytes(result.data), f"pgp-{HASH_NAMES.get(int(result.hash_algo or 8), 'sha256')}"

    body = request_text(recipient, request_id or new_request_id(), command)
    return build_request(
        fmt,
        body,
        sign_opaque=lambda d: bytes(sign(d, clearsign=False).data),
        clearsign=lambda d: bytes(sign(d, clearsign=True).data),
        sign_detached=detached,
    )


def encrypt_request(gpg: gnupg.GPG, msg: Message, server_key: ServerKey) -> Message:
    """Seal a signed request for the server's key (RFC 3156 nested: sign, then encrypt)."""
    gpg.import_keys(server_key.public)
    sealed = gpg.encrypt(
        msg.as_bytes(policy=policy.SMTP), [server_key.fingerprint], always_trust=True, armor=True
    )
    if not sealed.ok:
        raise ClientError(f"cannot encrypt to the server key: {sealed.status}")
    return encrypted_message(bytes(sealed.data))


def _decrypter(gpg: gnupg.GPG, passphrase: str | None) -> Callable[[bytes], bytes]:
    def decrypt(data: bytes) -> bytes:
        result = gpg.decrypt(data, passphrase=passphrase)
        if not result.ok:
            raise ClientError(f"cannot decrypt the reply: {result.status}")
        return bytes(result.data)

    return decrypt


@dataclass(frozen=True)
class SendResult:
    message_id: str
    reply: Reply | None = None

    @property
    def stdout(self) -> str:
        return self.reply.stdout if self.reply else ""

    @property
    def stderr(self) -> str:
        return self.reply.stderr if self.reply else ""

    def exit(self) -> tuple[int, str | None]:
        """What `send --wait` exits with, and the line it says on stderr (if any)."""
        return self.reply.exit() if self.reply else (0, None)


def send(
    settings: Settings,
    gpg: gnupg.GPG,
    command: str,
    fmt: Format,
    *,
    key: str | None,
    wait: float | None,
    environ: Mapping[str, str],
    docker_client: Callable[[], docker.DockerClient],
    encrypt: bool = False,
) -> SendResult:
    fpr, address = signing_key(gpg, key or settings.client.key)
    sender = settings.client.address or address
    recipient = settings.request_recipient
    passphrase = environ.get("MAILSH_GPG_PASSPHRASE")
    request = signed_request(gpg, fmt, command, fpr, recipient, passphrase)
    subject = f"mailsh: {command.splitlines()[0][:60] if command.strip() else 'request'}"
    if encrypt:
        server_key = load_server_key(StateDir(settings.state_dir.resolve()))
        if server_key is None:
            raise ClientError("the server has no key to encrypt to", hint="run `invoke server-key`")
        # The command is in the subject: it travels inside, as a protected header.
        request["Subject"] = subject
        request.set_param("protected-headers", "v1")
        request = encrypt_request(gpg, request, server_key)
        subject = HIDDEN_SUBJECT
    msg, msg_id = address_message(request, sender, recipient, subject)
    submit(submission(settings, environ), msg, sender, recipient)
    if wait is None:
        return SendResult(msg_id)
    if settings.client.imap is None and catches_replies(settings):
        raw = wait_local(settings, docker_client(), msg_id, wait)
    else:
        raw = wait_imap(settings, environ, msg_id, wait)
    return SendResult(msg_id, read_reply(raw, _decrypter(gpg, passphrase)))
