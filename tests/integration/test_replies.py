"""Replies from a server with its own key, read as a person and as `invoke send --wait`
do: signed (gpg and mutt verify them), output first, a megabyte as an attachment, and
one exit status per outcome."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path

import docker
import pytest

from mailsh_server.message import first_part_bytes
from provision.client.replies import EXIT_NO_REPLY, EXIT_REFUSED, EXIT_TIMED_OUT, read_reply
from provision.client.server_key import load_server_key
from provision.state import StateDir
from tests.fixtures.gpg import GpgKeys
from tests.fixtures.server import RunningServer, keygen_and_trust, run_invoke, started_server
from tests.mutt import mbox, mutt


@dataclass
class KeyedServer:
    server: RunningServer
    env: dict[str, str]
    home: Path

    def send(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        return run_invoke(
            self.server.config_path, "send", "--command", command, "--wait", *args, env=self.env
        )

    def last_reply(self) -> bytes:
        """The newest message of the local reply mailbox, as delivered."""
        _, mailbox = self.server.exec(["cat", "/var/mail/mailsh-replies"])
        return mailbox.rsplit("\nFrom MAILER-DAEMON", 1)[-1].split("\n", 1)[1].encode()


@pytest.fixture(scope="module")
def keyed(
    docker_client: docker.DockerClient,
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KeyedServer]:
    """A server (timeout_s 2) with its own key, and a user trusted by it (`invoke` tasks)."""
    directory = tmp_path_factory.mktemp("keyed")
    with started_server(docker_client, directory, requests={"timeout_s": 2}) as server:
        env = keygen_and_trust(server, directory, "Alice")
        made = run_invoke(server.config_path, "server-key", env=env)
        assert made.returncode == 0, made.stderr
        yield KeyedServer(server, env, Path(env["GNUPGHOME"]))


def test_send_wait_exits_with_the_commands_own_status(keyed: KeyedServer) -> None:
    sent = keyed.send("echo oops >&2; exit 7")
    assert sent.returncode == 7
    assert sent.stderr.startswith("oops\n")


def test_send_wait_exits_77_and_says_why_when_the_request_is_refused(keyed: KeyedServer) -> None:
    sent = keyed.send("> /tmp/only-a-quoted-line")
    assert sent.returncode == EXIT_REFUSED, sent.stderr
    assert "mailsh: request refused: nothing left to run" in sent.stderr


def test_send_wait_exits_124_when_the_command_times_out(keyed: KeyedServer) -> None:
    sent = keyed.send("sleep 30")
    assert sent.returncode == EXIT_TIMED_OUT, sent.stderr
    assert "timeout_s" in sent.stderr


def test_send_wait_exits_75_when_no_reply_comes_in_time(keyed: KeyedServer) -> None:
    sent = keyed.send("sleep 1.5", "--timeout", "0.5")
    assert sent.returncode == EXIT_NO_REPLY, sent.stderr
    assert "no reply" in sent.stderr


def test_the_same_command_sent_twice_in_one_second_runs_twice(keyed: KeyedServer) -> None:
    first = keyed.send("echo same", "--format", "uuencode")
    second = keyed.send("echo same", "--format", "uuencode")
    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    assert first.stdout == second.stdout == "same\n"


def test_the_reply_verifies_with_gpg_against_the_server_key(
    keyed: KeyedServer, tmp_path: Path
) -> None:
    assert keyed.send("echo verified").returncode == 0
    raw = keyed.last_reply()
    msg = message_from_bytes(raw)
    assert msg.get_content_type() == "multipart/signed"
    boundary = msg.get_boundary()
    assert boundary is not None
    (tmp_path / "signed").write_bytes(first_part_bytes(raw, boundary))
    signature = msg.get_payload()[1].get_payload(decode=True)  # type: ignore[index, union-attr]
    (tmp_path / "signature.asc").write_bytes(signature)
    key = load_server_key(StateDir(keyed.server.settings.state_dir))
    assert key is not None
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch"]
    subprocess.run([*gpg, "--import"], input=key.public.encode(), check=True, capture_output=True)
    done = subprocess.run(
        [
            *gpg,
            "--status-fd",
            "1",
            "--verify",
            str(tmp_path / "signature.asc"),
            str(tmp_path / "signed"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"VALIDSIG {key.fingerprint}" in done.stdout
    assert read_reply(raw).stdout == "verified\n"


def test_mutt_shows_the_reply_as_signed_by_the_server(
    keyed: KeyedServer, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    assert keyed.send("echo in-mutt").returncode == 0
    key = load_server_key(StateDir(keyed.server.settings.state_dir))
    assert key is not None
    subprocess.run(
        ["gpg", "--homedir", str(gpg_keys.signer.home), "--batch", "--import"],
        input=key.public.encode(),
        check=True,
        capture_output=True,
    )
    mailbox = tmp_path / "replies.mbox"
    mailbox.write_bytes(mbox(keyed.last_reply()))
    with mutt(tmp_path / "mutt", gpg_keys) as client:
        screen = client.view(mailbox)
    assert "Good signature from" in screen, screen
    assert "in-mutt" in screen


def test_a_megabyte_of_output_arrives_as_an_attachment_with_its_head_inline(
    keyed: KeyedServer,
) -> None:
    sent = keyed.send("seq 1 200000 | head -c 1000000")
    assert sent.returncode == 0, sent.stderr
    assert len(sent.stdout) == 1000000
    reply = read_reply(keyed.last_reply())
    assert reply.text.startswith("1\n2\n3\n")
    assert "all of it in stdout.txt" in reply.text
    msg = message_from_bytes(keyed.last_reply())
    names = [part.get_filename() for part in msg.walk() if part.get_filename()]
    assert "stdout.txt" in names
