"""Client side of shell by mail: `invoke keygen`, `trust` and `send` (docs/ARCHITECTURE.md §3, §4).

Signing uses the user's own GnuPG home (GNUPGHOME or ~/.gnupg). Requests go
over SMTP; replies come from the user's IMAP mailbox, or in local mode from
the server's reply mailbox through the Docker SDK.
"""

from __future__ import annotations

import re
import secrets
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.utils import parseaddr
from pathlib import Path

import docker
import gnupg
from imapclient import IMAPClient

from mailsh_server.protocol import HIDDEN_SUBJECT
from provision.config import Settings, secret
from provision.container import exec_in, find_container
from provision.engine import published_host, reachable_here, select_engine
from provision.errors import ConfigError, MailshError
from provision.files import write_atomic
from provision.render import catches_replies
from provision.request_mail import (
    Format,
    Reply,
    address_message,
    build_request,
    encrypted_message,
    read_reply,
    request_text,
)
from provision.server_key import ServerKey, load_server_key
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
IMAP_POLL_S = 2.0

# `invoke send --wait` exit statuses besides the command's own (0-255). A command that
# itself exits with one of these is told apart by the "mailsh:" line on stderr.
EXIT_SOFTWARE = 70  # the request was interrupted on the server or its output withheld
EXIT_NO_REPLY = 75  # EX_TEMPFAIL: no reply within --timeout (it may still come)
EXIT_REFUSED = 77  # EX_NOPERM: the server refused the request; nothing ran
EXIT_TIMED_OUT = 124  # as timeout(1): the command ran past timeout_s and was killed


class ClientError(MailshError):
    """Signing, sending or waiting for a reply failed."""


class NoReply(ClientError):
    """No reply arrived within the time given."""

    exit_code = EXIT_NO_REPLY


def user_gpg(home: str | None = None) -> gnupg.GPG:
    return gnupg.GPG(gnupghome=home)


def keygen(
    gpg: gnupg.GPG, name: str, email: str, rsa: bool = False, passphrase: str | None = None
) -> str:
    """A new signing key (ed25519 + cv25519, or RSA 4096 as in the original); its fingerprint."""
    params: dict[str, object] = {"name_real": name, "name_email": email, "expire_date": 0}
    if rsa:
        params |= {
            "key_type": "RSA",
            "key_length": 4096,
            "subkey_type": "RSA",
            "subkey_length": 4096,
        }
    else:
        params |= {
            "key_type": "EDDSA",
            "key_curve": "ed25519",
            "key_usage": "sign",
            "subkey_type": "ECDH",
            "subkey_curve": "cv25519",
            "subkey_usage": "encrypt",
        }
    if passphrase:
        params["passphrase"] = passphrase
    else:
        params["no_protection"] = True
    result = gpg.gen_key(gpg.gen_key_input(**params))
    if not result.fingerprint:
        raise ClientError(f"gpg could not create the key: {result.stderr.strip()[-200:]}")
    return str(result.fingerprint)


def export_public(gpg: gnupg.GPG, fingerprint: str, path: Path) -> Path:
    write_atomic(path, str(gpg.export_keys(fingerprint)))
    return path


def key_fingerprint(gpg: gnupg.GPG, path: Path) -> str:
    """The one primary key in a public key file."""
    try:
        keys = gpg.scan_keys(str(path))
    except OSError as e:
        raise ClientError(f"{path}: cannot read: {e}") from None
    primaries = [k["fingerprint"] for k in keys if k.get("type") == "pub"]
    if len(primaries) != 1:
        raise ClientError(
            f"{path}: expected one public key, found {len(primaries)}",
            hint="export exactly one key with `gpg --armor --export FPR`",
        )
    return str(primaries[0])


def config_with_key(text: str, fingerprint: str) -> str:
    """mailsh.toml text with a [[keys]] entry for the fingerprint (appended, comments kept)."""
    if re.search(rf'(?m)^\s*fingerprint\s*=\s*"{fingerprint}"', text):
        return text
    block = f'[[keys]]\nfingerprint = "{fingerprint}"\n'
    return text + ("\n" if text and not text.endswith("\n\n") else "") + block


def trust(settings: Settings, config_path: Path, key_file: Path, gpg: gnupg.GPG) -> str:
    """Store the public key in the state's trusted keys and list it in the config."""
    fingerprint = key_fingerprint(gpg, key_file)
    state = StateDir(settings.state_dir.resolve())
    state.ensure()
    write_atomic(state.trusted_dir / f"{fingerprint}.asc", key_file.read_bytes())
    old = config_path.read_text() if config_path.exists() else ""
    write_atomic(config_path, config_with_key(old, fingerprint))
    return fingerprint


def signing_key(gpg: gnupg.GPG, wanted: str | None) -> tuple[str, str]:
    """The fingerprint and first e-mail address of the secret key to sign with."""
    keys = gpg.list_keys(secret=True)
    if wanted:
        keys = [
            k
            for k in keys
            if wanted.upper() in (k["fingerprint"], k["keyid"])
            or any(wanted.lower() in uid.lower() for uid in k["uids"])
        ]
    if len(keys) != 1:
        raise ClientError(
            f"{len(keys)} secret keys match {wanted or '(any)'}",
            hint="set [client] key in mailsh.toml or pass --key FINGERPRINT",
        )
    addresses = [parseaddr(uid)[1] for uid in keys[0]["uids"] if "@" in uid]
    if not addresses:
        raise ClientError(f"key {keys[0]['fingerprint']} has no e-mail address in its user IDs")
    return str(keys[0]["fingerprint"]), addresses[0]


def _signer(gpg: gnupg.GPG, fpr: str, passphrase: str | None) -> Callable[..., bytes]:
    def sign(data: bytes, **kw: object) -> bytes:
        result = gpg.sign(data, keyid=fpr, passphrase=passphrase, **kw)
        if not result.data:
            raise ClientError(f"gpg could not sign: {result.stderr.strip()[-200:]}")
        return bytes(result.data)

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
    hashes: list[str] = []

    def detached(data: bytes) -> tuple[bytes, str]:
        result = gpg.sign(data, keyid=fpr, passphrase=passphrase, detach=True)
        if not result.data:
            raise ClientError(f"gpg could not sign: {result.stderr.strip()[-200:]}")
        hashes.append(HASH_NAMES.get(int(result.hash_algo or 8), "sha256"))
        return bytes(result.data), f"pgp-{hashes[-1]}"

    body = request_text(recipient, request_id or new_request_id(), command)
    return build_request(
        fmt,
        body,
        sign_opaque=lambda d: sign(d, clearsign=False),
        clearsign=lambda d: sign(d, clearsign=True),
        sign_detached=detached,
    )


@dataclass(frozen=True)
class Submission:
    host: str
    port: int
    username: str | None
    password: str | None


def submission(settings: Settings, environ: Mapping[str, str]) -> Submission:
    """Where `send` submits: `[client] smtp`, else the server's published port on the
    machine of its Docker engine."""
    c = settings.client
    if c.smtp is None:
        where = select_engine(settings, environ)
        if not reachable_here(settings.ports.bind, where):
            raise ClientError(
                f"the SMTP port is published on the loopback of {where.host} only",
                hint='set [ports] bind = "0.0.0.0" or [client] smtp',
            )
        return Submission(
            published_host(settings.ports.bind, where), settings.ports.smtp, None, None
        )
    host, _, port = c.smtp.rpartition(":") if ":" in c.smtp else (c.smtp, "", "587")
    password = secret(c.password_env, environ, "client.password_env") if c.username else None
    return Submission(host, int(port), c.username, password)


def submit(sub: Submission, msg: Message, sender: str, recipient: str) -> None:
    try:
        with smtplib.SMTP(sub.host, sub.port, timeout=30) as smtp:
            smtp.ehlo()
            if sub.username is not None:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
                smtp.login(sub.username, sub.password or "")
            smtp.send_message(msg, sender, [recipient])
    except (OSError, smtplib.SMTPException) as e:
        raise ClientError(f"cannot submit to {sub.host}:{sub.port}: {e}") from None


def wait_local(
    settings: Settings, client: docker.DockerClient, msg_id: str, timeout: float
) -> bytes:
    container = find_container(client, settings.container_name)
    if container is None:
        raise ClientError(f"no container {settings.container_name} to read the reply from")
    code, out = exec_in(
        container,
        [
            "python3",
            "-m",
            "mailsh_server.replies",
            "--in-reply-to",
            msg_id,
            "--timeout",
            str(timeout),
        ],
    )
    if code != 0:
        raise NoReply(out.strip() or f"no reply to {msg_id}")
    return out.encode("utf-8", "surrogateescape")


def wait_imap(settings: Settings, environ: Mapping[str, str], msg_id: str, timeout: float) -> bytes:
    c = settings.client
    if c.imap is None or c.username is None:
        raise ConfigError("--wait needs [client] imap and username (or the local mode)")
    password = secret(c.password_env, environ, "client.password_env")
    host, _, port = c.imap.rpartition(":") if ":" in c.imap else (c.imap, "", "993")
    deadline = time.monotonic() + timeout
    with IMAPClient(host, port=int(port), ssl=True, timeout=30) as imap:
        imap.login(c.username, password)
        imap.select_folder("INBOX", readonly=True)
        while time.monotonic() < deadline:
            imap.noop()  # let the server report mail delivered since the last poll
            uids = imap.search(["HEADER", "In-Reply-To", msg_id])
            if uids:
                data = imap.fetch(uids[:1], ["RFC822"])
                return bytes(data[uids[0]][b"RFC822"])
            time.sleep(IMAP_POLL_S)
    raise NoReply(f"no reply to {msg_id} after {timeout:g} s")


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
        reply = self.reply
        if reply is None:
            return 0, None
        if reply.result == "done" and reply.exit_status is not None:
            return reply.exit_status, None
        if reply.result == "timeout":
            return EXIT_TIMED_OUT, "mailsh: the command ran past timeout_s and was killed"
        if reply.result == "refused":
            return EXIT_REFUSED, f"mailsh: request refused: {reply.refusal}"
        why = reply.text.strip().split("\n", 1)[0] or reply.result
        return EXIT_SOFTWARE, f"mailsh: request {reply.result}: {why}"


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
