"""mailsh run from an operator machine against a remote engine over ssh:// (issue 15):
provision, a signed round trip, backup, and restore under another name.

The operator container's state directory exists only inside it, as a laptop's does
for a VPS; the engine publishes the server's ports on its own machine's address."""

from __future__ import annotations

import base64
import json
import subprocess
import tomllib
from dataclasses import dataclass

import docker
import pytest
from cryptography import x509

from mailsh_server.protocol import REPLY_MAILBOX_MODULE, server_command
from tests.fixtures.acme import TSIG_ENV, starttls_certificate, trusting
from tests.fixtures.gpg import GpgKeys
from tests.fixtures.remote import (
    RENEWAL_DOMAIN,
    RemoteServer,
    acme_remote_config,
    operator_fingerprint,
    provision_remote,
    remote_config,
    submit_to,
    wait_for_log,
    write_remote_config,
)
from tests.lab.bind import LabDns
from tests.lab.compose import Lab
from tests.lab.docker_lab import free_port, lab_name
from tests.lab.pebble import LabPebble
from tests.lab.remote import RemoteLab, tar_of
from tests.requests_corpus import request
from tests.waiting import wait_for_output

ARCHIVE = "/root/remote-a.mailsh-backup"


@dataclass
class Provisioned:
    server: RemoteServer
    first: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def provisioned(
    remote: RemoteLab,
    remote_servers: list[str],
    docker_client: docker.DockerClient,
    gpg_keys: GpgKeys,
) -> Provisioned:
    """Server A, provisioned from the operator; it trusts alice (requests made here)."""
    config = remote_config(remote, "remote-a")
    alice = gpg_keys.server.export(gpg_keys.alice)
    remote.put(f"{config['state_dir']}/trusted/{gpg_keys.alice}.asc", alice)
    # As `invoke trust` writes it (it appends [[keys]] tables).
    trusted = f'\n[[keys]]\nfingerprint = "{gpg_keys.alice}"\n'
    server, first = provision_remote(remote, docker_client, remote_servers, config, None, trusted)
    return Provisioned(server, first)


@pytest.fixture(scope="module")
def operator_key(provisioned: Provisioned, remote: RemoteLab) -> str:
    """The operator's key, made by `invoke keygen` and trusted by `invoke trust`."""
    server = provisioned.server
    made = server.invoke("keygen", "--name", "Olga", "--email", "olga@client.example")
    assert made.returncode == 0, made.stderr
    public = made.stdout.split("public key: ", 1)[1].split()[0]
    trusted = server.invoke("trust", public)
    assert trusted.returncode == 0, trusted.stderr
    assert "server updated" in trusted.stdout
    return operator_fingerprint(remote)


def test_provision_from_the_operator_publishes_on_the_engines_machine(
    provisioned: Provisioned, remote: RemoteLab
) -> None:
    out = provisioned.first.stdout
    assert "(created)" in out
    assert f"on {remote.engine_url}" in out
    host, port = provisioned.server.smtp
    assert f"smtp      {host}:{port} -> 25" in out
    assert "banner    " in out


def test_the_server_gets_its_state_through_volumes_not_the_operators_path(
    provisioned: Provisioned,
) -> None:
    mounts = provisioned.server.container.attrs["Mounts"]
    assert {m["Type"] for m in mounts} == {"volume"}
    assert any(m["Destination"] == "/var/lib/mailsh" for m in mounts)
    code, listing = provisioned.server.container.exec_run(["ls", "/var/lib/mailsh/dkim"])
    assert code == 0
    assert b"mail.private" in listing


def test_second_provision_from_the_operator_changes_nothing(provisioned: Provisioned) -> None:
    again = provisioned.server.invoke("provision")
    assert again.returncode == 0, again.stderr
    assert "(unchanged)" in again.stdout
    assert "building image" not in again.stderr


def test_signed_command_round_trips_through_the_remote_engine(
    provisioned: Provisioned, operator_key: str
) -> None:
    sent = provisioned.server.invoke("send", "--command", "echo hello from $(hostname)", "--wait")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == "hello from mail.mailsh.localdomain\n"


@dataclass
class Moved:
    """Server A backed up and restored as server B on the same engine."""

    source: RemoteServer
    restored: RemoteServer
    backup: subprocess.CompletedProcess[str]
    restore: subprocess.CompletedProcess[str]
    accepted_before: bytes


@pytest.fixture(scope="module")
def moved(
    provisioned: Provisioned,
    operator_key: str,
    remote: RemoteLab,
    remote_servers: list[str],
    gpg_keys: GpgKeys,
    docker_client: docker.DockerClient,
) -> Moved:
    a = provisioned.server
    # A request A accepts and answers before the move.
    raw = request(gpg_keys, "clearsign", "echo before the move >> /tmp/ran\n")
    msg_id = submit_to(a, raw)
    reply = server_command(REPLY_MAILBOX_MODULE, "--in-reply-to", msg_id, "--timeout", "30")
    wait_for_output(a.container, reply, "X-Mailsh-Result: done")
    # A message still queued (local delivery held) when the backup is made.
    a.container.exec_run(["sh", "-c", "postconf -e defer_transports=local && postfix reload"])
    a.container.exec_run(
        ["sh", "-c", "printf 'Subject: queued 9c1f\\n\\nq\\n' | sendmail postmaster"]
    )
    wait_for_output(a.container, ["postqueue", "-p"], "postmaster")

    backup = a.invoke("backup", "--output", ARCHIVE, "--encrypt-to", operator_key)
    assert backup.returncode == 0, backup.stderr

    config = tomllib.loads(remote.read(a.config).decode())
    del config["engine"]  # B's engine comes from DOCKER_HOST
    config |= {"container_name": lab_name("remote-b"), "state_dir": "/root/remote-b/state"}
    config["ports"] = {**config["ports"], "smtp": free_port(), "https": free_port()}
    remote_servers.append(config["container_name"])
    path = write_remote_config(remote, config, "/root/remote-b/mailsh.toml")
    b = RemoteServer(remote, path, config, docker_client)
    restore = b.invoke("restore", ARCHIVE, env={"DOCKER_HOST": remote.engine_url})
    assert restore.returncode == 0, restore.stderr
    return Moved(a, b, backup, restore, raw)


def test_backup_is_one_private_archive_encrypted_to_the_operator(
    moved: Moved, remote: RemoteLab
) -> None:
    assert remote.run("stat", "-c", "%a", ARCHIVE).stdout.strip() == "600"
    assert not remote.read(ARCHIVE).startswith(b"\x1f\x8b"), "not encrypted"
    assert "MiB" in moved.backup.stdout


def test_restored_server_has_the_same_dkim_key_and_certificate(moved: Moved) -> None:
    for path in ("/var/lib/mailsh/dkim/mail.private", "/var/lib/mailsh/tls/fullchain.pem"):
        a = moved.source.container.exec_run(["cat", path]).output
        b = moved.restored.container.exec_run(["cat", path]).output
        assert a == b, path


def test_mail_queued_before_the_backup_is_delivered_after_restore(moved: Moved) -> None:
    wait_for_output(moved.restored.container, ["cat", "/var/mail/mailadmin"], "queued 9c1f")


def test_request_accepted_before_the_move_is_refused_as_a_replay_after_it(
    moved: Moved,
) -> None:
    b = moved.restored
    submit_to(b, moved.accepted_before)
    line = wait_for_log(b.container, "replay of an already accepted request")
    assert "refused" in line
    assert b.container.exec_run(["test", "-e", "/tmp/ran"]).exit_code != 0


def test_restored_server_runs_new_requests(moved: Moved, remote: RemoteLab) -> None:
    sent = moved.restored.invoke(
        "send", "--command", "echo after the move", "--wait", env={"DOCKER_HOST": remote.engine_url}
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == "after the move\n"


@dataclass
class Renewing:
    server: RemoteServer
    issued_by_operator: bytes


@pytest.fixture(scope="module")
def renewing(
    remote: RemoteLab,
    lab: Lab,
    lab_dns: LabDns,
    short_pebble: LabPebble,
    remote_servers: list[str],
    docker_client: docker.DockerClient,
) -> Renewing:
    """Server C: ACME from a Pebble whose certificates are due as soon as issued."""
    config = acme_remote_config(remote, lab, lab_dns, short_pebble, "remote-c")
    env = {TSIG_ENV: lab_dns.tsig_secret}
    server, _ = provision_remote(remote, docker_client, remote_servers, config, env)
    issued = remote.read("/root/remote-c/state/tls/fullchain.pem")
    return Renewing(server, issued)


def _served(server: RemoteServer, pebble: LabPebble) -> x509.Certificate:
    fqdn = f"mail.{RENEWAL_DOMAIN}"
    return starttls_certificate(*server.smtp, fqdn, trusting(pebble.root_pem()))


def _renewal_status(server: RemoteServer, result: str) -> dict[str, str]:
    status = "/var/lib/mailsh/renewal/status.json"
    text = wait_for_output(server.container, ["cat", status], f'"result": "{result}"')
    return dict(json.loads(text))


def test_server_renews_its_own_certificate_within_one_wake_up(
    renewing: Renewing, short_pebble: LabPebble
) -> None:
    _renewal_status(renewing.server, "renewed")
    in_volume = renewing.server.container.exec_run(
        ["cat", "/var/lib/mailsh/tls/fullchain.pem"]
    ).output
    assert in_volume != renewing.issued_by_operator
    assert _served(renewing.server, short_pebble) == x509.load_pem_x509_certificate(in_volume)
    env = renewing.server.container.attrs["Config"]["Env"]
    assert not any("TSIG" in variable for variable in env)


def test_failed_renewal_keeps_the_certificate_and_mails_the_admin(
    renewing: Renewing, short_pebble: LabPebble
) -> None:
    server = renewing.server
    _renewal_status(server, "renewed")
    served = _served(server, short_pebble)
    wrong = base64.b64encode(b"not the lab's TSIG secret, wrong").decode()
    secret = tar_of({"dns": (wrong.encode(), 0o600)})
    server.container.put_archive("/var/lib/mailsh/secrets", secret)

    server.container.exec_run(["supervisorctl", "signal", "HUP", "mailsh-renewer"])

    status = _renewal_status(server, "failed")
    assert "rfc2136" in status["detail"]
    assert _served(server, short_pebble) == served
    wait_for_output(server.container, ["cat", "/var/mail/mailadmin"], "certificate renewal failed")
    logs = server.invoke("logs", "--tail", "300")
    assert "mailsh-renewal: failed" in logs.stdout
    status = server.invoke("status")
    assert "renewal failed at" in status.stdout
    assert "days left" in status.stdout
