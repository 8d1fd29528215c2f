"""How a request travels: SMTP submission, then the reply from the user's IMAP mailbox
or, in local mode, from the server's reply mailbox through the Docker SDK."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message

import docker
from imapclient import IMAPClient

from mailsh_server.protocol import IN_REPLY_TO_ENV, REPLY_MAILBOX_MODULE, server_command
from provision.client.replies import EXIT_NO_REPLY
from provision.config import Settings, secret
from provision.config_types import join_host_port, split_host_port
from provision.container import exec_in, find_container
from provision.engine import published_host, reachable_here, select_engine
from provision.errors import ClientError, ConfigError
from provision.polling import poll

IMAP_POLL_S = 2.0
SUBMISSION_PORT = 587
IMAPS_PORT = 993


class NoReply(ClientError):
    """No reply arrived within the time given."""

    exit_code = EXIT_NO_REPLY


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
    host, port = split_host_port(c.smtp, SUBMISSION_PORT)
    password = secret(c.password_env, environ, "client.password_env") if c.username else None
    return Submission(host, port, c.username, password)


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
        where = join_host_port(sub.host, sub.port)
        raise ClientError(f"cannot submit to {where}: {e}") from None


def wait_local(
    settings: Settings, client: docker.DockerClient, msg_id: str, timeout: float
) -> bytes:
    container = find_container(client, settings.container_name)
    if container is None:
        raise ClientError(f"no container {settings.container_name} to read the reply from")
    # The Message-ID in the environment, not the arguments: a command running meanwhile
    # could read it from /proc and mail a forged reply to it.
    code, out = exec_in(
        container,
        server_command(REPLY_MAILBOX_MODULE, "--timeout", str(timeout)),
        environment={IN_REPLY_TO_ENV: msg_id},
    )
    if code != 0:
        raise NoReply(out.strip() or f"no reply to {msg_id}")
    return out.encode("utf-8", "surrogateescape")


def wait_imap(settings: Settings, environ: Mapping[str, str], msg_id: str, timeout: float) -> bytes:
    c = settings.client
    if c.imap is None or c.username is None:
        raise ConfigError("--wait needs [client] imap and username (or the local mode)")
    password = secret(c.password_env, environ, "client.password_env")
    host, port = split_host_port(c.imap, IMAPS_PORT)
    with IMAPClient(host, port=port, ssl=True, timeout=30) as imap:
        imap.login(c.username, password)
        imap.select_folder("INBOX", readonly=True)

        def reply() -> bytes | None:
            imap.noop()  # let the server report mail delivered since the last poll
            uids = imap.search(["HEADER", "In-Reply-To", msg_id])
            if not uids:
                return None
            data = imap.fetch(uids[:1], ["RFC822"])
            return bytes(data[uids[0]][b"RFC822"])

        no_reply = NoReply(f"no reply to {msg_id} after {timeout:g} s")
        return poll(reply, timeout, IMAP_POLL_S, lambda: no_reply)
