"""`invoke dkim-rotate` in the lab: a server publishing into the lab BIND sends to the lab
receiver before, during and after a rotation; every message verifies there, and the old
selector's record goes with the first dns-update after the (shortened) grace period."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

import docker
import pytest

from provision.config import load_settings
from provision.container import exec_in, find_container
from provision.dkim import load_selectors
from provision.state import StateDir
from tests.fixtures.acme import TSIG_ENV
from tests.fixtures.server import remove_server, run_invoke, server_config, write_config
from tests.lab.bind import LabDns
from tests.lab.compose import Lab
from tests.lab.receiver import LabReceiver
from tests.lab.zones import LabZones
from tests.waiting import wait_until

DOMAIN = "rot.mailsh.test"
SERVER_INDEX = 63
HELD_SENDER = f"held@{DOMAIN}"
GRACE_S = 3


@dataclass
class RotationRun:
    """What the scenario saw; each test asserts one part of it."""

    old: str = ""
    new: str = ""
    received: dict[str, EmailMessage] = field(default_factory=dict)
    status: str = ""
    removal: str = ""
    old_record_after_removal: list[str] = field(default_factory=list)
    old_key_kept: bool = True


def _dkim_results(message: EmailMessage) -> str:
    return " ".join(str(h) for h in message.get_all("Authentication-Results", []))


@contextmanager
def _receiver_defers(receiver: LabReceiver, sender: str) -> Iterator[None]:
    """The receiver answers 4xx to mail from `sender`: its mail waits in the server's queue."""

    def postfix(*commands: str) -> None:
        for command in commands:
            code, out = receiver.container.exec_run(["sh", "-c", command])
            assert code == 0, out

    postfix(
        f"postconf -e 'smtpd_sender_restrictions = check_sender_access inline:{{{sender}=DEFER}}'",
        "postfix reload",
    )
    try:
        yield
    finally:
        postfix("postconf -X smtpd_sender_restrictions", "postfix reload")


@dataclass
class Server:
    client: docker.DockerClient
    name: str

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        container = find_container(self.client, self.name)
        assert container is not None, f"container {self.name} is gone"
        return exec_in(container, cmd)

    def send(self, sender: str, receiver: LabReceiver, subject: str) -> None:
        message = f"From: {sender}\nTo: {receiver.address}\nSubject: {subject}\n\nrotation\n"
        code, out = self.exec(
            ["sh", "-c", f"printf '%s' '{message}' | /usr/sbin/sendmail -t -f {sender}"]
        )
        assert code == 0, out

    def deferred(self, sender: str) -> bool:
        code, out = self.exec(["postqueue", "-p"])
        return code == 0 and sender in out and " said: 450" in out


@pytest.fixture(scope="module")
def rotation(
    docker_client: docker.DockerClient,
    base_image: str,
    lab: Lab,
    lab_dns: LabDns,
    lab_receiver: LabReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RotationRun]:
    directory = tmp_path_factory.mktemp("dkim-rotate")
    ip = lab.ip(SERVER_INDEX)
    config = server_config(directory)
    config["domain"] = DOMAIN
    config["network"] = {"docker_network": lab.network.name, "ip": ip, "dns": [lab_dns.ip]}
    config["dns"] = {**lab_dns.dns_config("mailsh.test", TSIG_ENV), "ip": ip}
    config_path = write_config(directory, config)
    settings = load_settings(config_path, environ={})
    env = {TSIG_ENV: lab_dns.tsig_secret}
    tag = uuid.uuid4().hex[:6]
    run = RotationRun()

    def invoke(*args: str) -> str:
        done = run_invoke(config_path, *args, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    try:
        invoke("provision")
        invoke("dns-update")
        server = Server(docker_client, settings.container_name)
        state = StateDir(settings.state_dir)
        run.old = load_selectors(state, "mail").signing

        server.send(f"robot@{DOMAIN}", lab_receiver, f"before {tag}")
        run.received["before"] = lab_receiver.wait_for(f"before {tag}")

        with _receiver_defers(lab_receiver, HELD_SENDER):
            server.send(HELD_SENDER, lab_receiver, f"in transit {tag}")
            wait_until(
                lambda: server.deferred(HELD_SENDER), 60, "the held message was never deferred"
            )
            invoke("dkim-rotate", "--grace", f"{GRACE_S}s")
        run.new = load_selectors(state, "mail").signing
        # Signed with the old key before the switch, delivered after it.
        code, out = server.exec(["postqueue", "-f"])
        assert code == 0, out
        run.received["in transit"] = lab_receiver.wait_for(f"in transit {tag}")

        server.send(f"robot@{DOMAIN}", lab_receiver, f"after {tag}")
        run.received["after"] = lab_receiver.wait_for(f"after {tag}")
        run.status = run_invoke(config_path, "status", env=env).stdout

        remove_after = load_selectors(state, "mail").retired[run.old]
        # A wait for a time, not a condition: the grace period is what is under test.
        time.sleep(max(0.0, remove_after.timestamp() - time.time()) + 0.1)
        run.removal = invoke("dns-update")
        run.old_record_after_removal = LabZones(lab_dns).current(
            f"{run.old}._domainkey.{DOMAIN}", "TXT"
        )
        run.old_key_kept = state.dkim_key_file(run.old).exists()

        server.send(f"robot@{DOMAIN}", lab_receiver, f"removed {tag}")
        run.received["removed"] = lab_receiver.wait_for(f"removed {tag}")
        yield run
    finally:
        remove_server(docker_client, settings.container_name)


def test_mail_signed_before_the_rotation_verifies_with_the_old_selector(
    rotation: RotationRun,
) -> None:
    results = _dkim_results(rotation.received["before"])
    assert "dkim=pass" in results and f"header.s={rotation.old}" in results, results


def test_mail_signed_before_and_delivered_after_the_switch_still_verifies(
    rotation: RotationRun,
) -> None:
    results = _dkim_results(rotation.received["in transit"])
    assert "dkim=pass" in results and f"header.s={rotation.old}" in results, results


def test_mail_after_the_switch_is_signed_with_the_new_selector_and_verifies(
    rotation: RotationRun,
) -> None:
    assert rotation.new != rotation.old
    results = _dkim_results(rotation.received["after"])
    assert "dkim=pass" in results and f"header.s={rotation.new}" in results, results


def test_status_shows_the_signing_and_the_retired_selector(rotation: RotationRun) -> None:
    assert f"dkim: {rotation.new} signs" in rotation.status
    assert f"dkim: {rotation.old} retired" in rotation.status


def test_dns_update_after_the_grace_period_removes_the_old_record(rotation: RotationRun) -> None:
    assert f"- removed   DKIM     {rotation.old}._domainkey.{DOMAIN} TXT" in rotation.removal
    assert rotation.old_record_after_removal == []
    assert not rotation.old_key_kept


def test_mail_after_the_old_record_is_gone_still_verifies(rotation: RotationRun) -> None:
    results = _dkim_results(rotation.received["removed"])
    assert "dkim=pass" in results and f"header.s={rotation.new}" in results, results
