"""The lab's receiving mail host for client.test: postfix with opendkim (verify), opendmarc
and the SPF policy service, each adding Authentication-Results; mail is stored in alice's
Maildir, which tests read with docker exec or over IMAP."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import docker
from docker.models.containers import Container

from provision.dns.provider import Record
from tests.lab.bind import LabDns
from tests.lab.docker_lab import Lab, build_lab_image, host_port, run_lab_container
from tests.lab.lab_ca import LabCa
from tests.waiting import wait_until

RECEIVER_INDEX = 25
DOMAIN = "client.test"
MX_HOST = f"mx.{DOMAIN}"
MAILBOX = "alice"
IMAP_PASSWORD = "alice-lab-password"
MAILDIR = f"/home/{MAILBOX}/Maildir/new"


@dataclass
class LabReceiver:
    ip: str
    smtp_port: int
    imaps_port: int
    ca_bundle: Path  # the lab CA that issued the IMAPS certificate (for 127.0.0.1)
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


def start_receiver(
    client: docker.DockerClient, lab: Lab, lab_dns: LabDns, workdir: Path
) -> LabReceiver:
    """Start the receiver at its fixed lab address and publish client.test's MX for it."""
    image = build_lab_image(client, "receiver")
    ip = lab.ip(RECEIVER_INDEX)
    ca = LabCa.create()
    ca_bundle = ca.write_bundle(workdir / "ca.pem")
    tls = workdir / "tls"
    _, key = ca.issue(["127.0.0.1", MX_HOST], days=30, directory=tls)
    tls.chmod(0o755)
    key.chmod(0o644)  # read by dovecot in the container; a throwaway lab key
    container = run_lab_container(
        client,
        image,
        lab,
        role="receiver",
        ip=ip,
        ports={"25/tcp": None, "143/tcp": None, "993/tcp": None},
        hostname=MX_HOST,
        volumes={str(tls): {"bind": "/lab/tls", "mode": "ro"}},
        environment={"LAB_DNS": lab_dns.ip, "IMAP_PASSWORD": IMAP_PASSWORD},
    )
    zone = lab_dns.provider(DOMAIN)
    zone.set(Record(MX_HOST, "A", (ip,), 60))
    zone.set(Record(DOMAIN, "MX", (f"10 {MX_HOST}.",), 60))
    receiver = LabReceiver(
        ip, host_port(container, "25/tcp"), host_port(container, "993/tcp"), ca_bundle, container
    )

    def greets() -> bool:
        container.reload()
        if container.status == "exited":
            raise RuntimeError(container.logs().decode(errors="replace"))
        code, _ = container.exec_run(["sh", "-c", "postfix status && doveadm who >/dev/null"])
        return code == 0

    wait_until(greets, 60, "lab: receiver not ready")
    return receiver
