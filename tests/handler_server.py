"""The request handler as unit tests drive it: real gpg keys, journal and sandbox, and
the replies it would send collected instead of handed to postfix."""

from __future__ import annotations

import getpass
from email import message_from_bytes, policy
from email.message import EmailMessage

from mailsh_server.handler import RequestHandler, RequestOutcome
from mailsh_server.journal import ReplayJournal
from mailsh_server.keyring import Keyring
from mailsh_server.settings import ServerSettings
from mailsh_server.verify import KeyPolicy, Policy
from provision.client.replies import read_reply
from tests.fixtures.gpg import GpgKeys
from tests.requests_corpus import RECIPIENT

Sent = list[tuple[EmailMessage, str]]


class Server:
    def __init__(self, keys: GpgKeys, journal: ReplayJournal, **settings: object) -> None:
        policy_keys = {f: KeyPolicy(f) for f in keys.trusted}
        policy_keys[keys.mallory_subkey] = KeyPolicy(keys.mallory_subkey)
        self.sent: Sent = []
        self.raw: list[bytes] = []
        self.settings = ServerSettings(
            recipient=RECIPIENT,
            policy=Policy(
                keys=policy_keys,
                run_as=getpass.getuser(),
                max_age_s=int(settings.get("max_age_s", 600)),  # type: ignore[call-overload]
                recipient=RECIPIENT,
                require_binding=bool(settings.get("require_binding", False)),
            ),
            timeout_s=int(settings.get("timeout_s", 10)),  # type: ignore[call-overload]
            max_output_bytes=int(settings.get("max_output_bytes", 4096)),  # type: ignore[call-overload]
            reply_on_reject=bool(settings.get("reply_on_reject", False)),
        )
        self.handler = RequestHandler(
            self.settings, Keyring(keys.server.home), journal, sender=self._send
        )

    def _send(self, raw: bytes, to: str) -> None:
        self.raw.append(raw)
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.sent.append((msg, to))

    def handle(self, raw: bytes) -> RequestOutcome:
        return self.handler.handle(raw)


def stream(msg: EmailMessage, name: str) -> str:
    """stdout or stderr of a reply, as `invoke send --wait` reads them."""
    reply = read_reply(msg.as_bytes())
    return reply.stdout if name == "stdout" else reply.stderr
