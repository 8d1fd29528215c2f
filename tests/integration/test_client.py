"""The client tasks as a user runs them: keygen, trust, send --wait (embedded local mode)."""

from __future__ import annotations

from pathlib import Path

from provision.request_mail import FORMATS
from tests.fixtures.server import ProvisionServer, run_invoke


def test_keygen_trust_and_send_wait_print_the_output(
    provision_server: ProvisionServer, tmp_path: Path
) -> None:
    server = provision_server()
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(home)}

    made = run_invoke(
        server.config_path, "keygen", "--name", "Alice", "--email", "alice@client.example", env=env
    )
    assert made.returncode == 0, made.stderr
    public = next(
        line.split(": ", 1)[1]
        for line in made.stdout.splitlines()
        if line.startswith("public key: ")
    )

    trusted = run_invoke(server.config_path, "trust", public, env=env)
    assert trusted.returncode == 0, trusted.stderr
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
    provision_server: ProvisionServer, tmp_path: Path
) -> None:
    server = provision_server()
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(home)}
    made = run_invoke(
        server.config_path, "keygen", "--name", "Bob", "--email", "bob@client.example", env=env
    )
    public = made.stdout.split("public key: ", 1)[1].split()[0]
    assert run_invoke(server.config_path, "trust", public, env=env).returncode == 0
    sent = run_invoke(
        server.config_path, "send", "--command", "echo oops >&2; exit 7", "--wait", env=env
    )
    assert sent.returncode == 7
    assert "oops" in sent.stderr


def test_encrypted_request_gets_an_encrypted_reply(
    provision_server: ProvisionServer, tmp_path: Path
) -> None:
    server = provision_server()
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(home)}
    made = run_invoke(
        server.config_path, "keygen", "--name", "Carol", "--email", "carol@client.example", env=env
    )
    public = made.stdout.split("public key: ", 1)[1].split()[0]
    assert run_invoke(server.config_path, "trust", public, env=env).returncode == 0
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
