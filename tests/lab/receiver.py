"""The lab's receiving mail host for client.test (compose service `receiver`): postfix with
opendkim (verify), opendmarc and the SPF policy service, each adding Authentication-Results;
mail is stored in alice's Maildir, which tests read with docker exec or over IMAP. BIND
publishes client.test's MX for it (compose.yml)."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from docker.models.containers import Container

from tests.lab.compose import Lab
from tests.waiting import wait_until

DOMAIN = "client.test"
MAILBOX = "alice"
MAILDIR = f"/home/{MAILBOX}/Maildir/new"
TLS_CA = "/lab/tls/ca.pem"


@dataclass
class LabReceiver:
    ip: str
    smtp_port: int
    imaps_port: int
    ca_bundle: Path  # the lab CA that issued the IMAPS certificate (for 127.0.0.1)
    imap_password: str
    container: Container = field(repr=False)

    @property
    def address(self) -> str:
        return f"{MAILBOX}@{DOMAIN}"

    def messages(self) -> list[EmailMessage]:
        """Every message delivered so far, oldest first."""
        code, out = self.container.exec_run(
            ["sh", "-c", f"for f in $(ls -tr {MAILDIR}); do cat {MAILDIR}/$f; printf '\\0'; done"]
        )
        assert code == 0, out
        found = []
        for raw in out.split(b"\0"):
            if raw.strip():
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                assert isinstance(msg, EmailMessage)
                found.append(msg)
        return found

    def wait_for(self, needle: str, timeout: float = 30) -> EmailMessage:
        """The first delivered message whose Subject contains `needle`."""

        def delivered() -> EmailMessage | None:
            return next((m for m in self.messages() if needle in str(m.get("Subject", ""))), None)

        def missing() -> str:
            logs = self.container.logs(tail=30).decode(errors="replace")
            return f"no message with {needle!r} at {self.address}; receiver log:\n{logs}"

        return wait_until(delivered, timeout, missing)


def wait_for_receiver(lab: Lab, directory: Path) -> LabReceiver:
    """The receiver, once postfix and dovecot run; the CA of its IMAPS certificate is
    copied to `directory`."""
    container = lab.container("receiver")
    ca_bundle = directory / "ca.pem"

    def greets() -> bool:
        ca = lab.read("receiver", TLS_CA)
        if ca is None:
            return False
        ca_bundle.write_bytes(ca)
        code, _ = container.exec_run(["sh", "-c", "postfix status && doveadm who >/dev/null"])
        return code == 0

    lab.wait_ready("receiver", greets, 60)
    return LabReceiver(
        ip=lab.address("receiver"),
        smtp_port=lab.port("receiver", 25),
        imaps_port=lab.port("receiver", 993),
        ca_bundle=ca_bundle,
        imap_password=lab.environment("receiver")["IMAP_PASSWORD"],
        container=container,
    )
