"""The client tasks as a user runs them: keygen, trust, send --wait (embedded local mode)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from provision.client.request_mail import FORMATS
from tests.fixtures.server import (
    ProvisionServer,
    RunningServer,
    keygen_and_trust,
    run_invoke,
    started_server,
)


@pytest.fixture(scope="module")
def shared_server(
    docker_client: docker.DockerClient, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """One server for the tests that each make and trust a user of their own, then send."""
    with started_server(docker_client, tmp_path_factory.mktemp("client")) as server:
        yield server


def test_keygen_trust_and_send_wait_print_the_output(
    shared_server: RunningServer, tmp_path: Path
) -> None:
    server = shared_server
    env = keygen_and_trust(server, tmp_path, "Alice")
    assert "[[keys]]" in server.config_path.read_text()

    for fmt in FORMATS:
        sent = run_invoke(
            server.config_path,
            "send",
            "--command",
            "echo hello; id -un",
            "--format",
            fmt,
            "--wait",
            "--timeout",
            "30",
            env=env,
        )
        assert sent.returncode == 0, (fmt, sent.stderr)
        assert sent.stdout == "hello\nmailsh\n", fmt


def test_send_wait_exits_with_the_command_status(
    shared_server: RunningServer, tmp_path: Path
) -> None:
    server = shared_server
    env = keygen_and_trust(server, tmp_path, "Bob")
    sent = run_invoke(
        server.config_path, "send", "--command", "echo oops >&2; exit 7", "--wait", env=env
    )
    assert sent.returncode == 7
    assert "oops" in sent.stderr


def test_encrypted_request_gets_an_encrypted_reply(
    provision_server: ProvisionServer, tmp_path: Path
) -> None:
    # A server of its own: its key makes every later reply signed and encrypted.
    server = provision_server()
    env = keygen_and_trust(server, tmp_path, "Carol")
    key = run_invoke(server.config_path, "server-key", env=env)
    assert key.returncode == 0, key.stderr
    assert key.stdout.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")

    sent = run_invoke(
        server.config_path, "send", "--command", "echo sealed", "--encrypt", "--wait", env=env
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == "sealed\n"
    _, mailbox = server.exec(["cat", "/var/mail/mailsh-replies"])
    assert "multipart/encrypted" in mailbox
    assert "sealed\n" not in mailbox.replace("echo sealed", "")
