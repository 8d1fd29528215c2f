"""mailsh run from an operator machine against a remote engine over ssh:// (issue 15).

The operator container's state directory exists only inside it, as a laptop's does
for a VPS; the engine publishes the server's ports on its own machine's address."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import docker
import pytest

from tests.fixtures.remote import RemoteServer, remote_config, write_remote_config
from tests.lab.remote import RemoteLab


@dataclass
class Provisioned:
    server: RemoteServer
    first: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def provisioned(
    remote: RemoteLab, remote_servers: list[str], docker_client: docker.DockerClient
) -> Provisioned:
    config = remote_config(remote, "remote-a")
    remote_servers.append(config["container_name"])
    path = write_remote_config(remote, config, "/root/remote-a/mailsh.toml")
    server = RemoteServer(remote, path, config, docker_client)
    first = server.invoke("provision")
    if first.returncode != 0:
        pytest.fail(f"invoke provision from the operator failed: {first.stderr}")
    return Provisioned(server, first)


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


def test_signed_command_round_trips_through_the_remote_engine(provisioned: Provisioned) -> None:
    server = provisioned.server
    made = server.invoke("keygen", "--name", "Olga", "--email", "olga@client.example")
    assert made.returncode == 0, made.stderr
    public = made.stdout.split("public key: ", 1)[1].split()[0]
    trusted = server.invoke("trust", public)
    assert trusted.returncode == 0, trusted.stderr
    assert "server updated" in trusted.stdout

    sent = server.invoke("send", "--command", "echo hello from $(hostname)", "--wait")

    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == "hello from mail.mailsh.localdomain\n"
