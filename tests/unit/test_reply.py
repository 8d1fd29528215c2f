"""Replies as a person reads them (on a phone) and as `invoke send --wait` reads them."""

from __future__ import annotations

import subprocess
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailsh_server.journal import ReplayJournal
from mailsh_server.message import first_part_bytes
from mailsh_server.protocol import NEXT_COMMAND_MARKER
from mailsh_server.reply import POLICY, serialized
from provision.client.replies import (
    EXIT_NO_REPLY,
    EXIT_REFUSED,
    EXIT_SOFTWARE,
    EXIT_TIMED_OUT,
    Reply,
    read_reply,
)
from provision.client.send import SendResult
from tests.fixtures.gpg import GpgKeys
from tests.handler_server import Server
from tests.requests_corpus import encrypted_request, request


@pytest.fixture
def server(gpg_keys: GpgKeys, tmp_path: Path) -> Server:
    return Server(gpg_keys, ReplayJournal(tmp_path / "journal.sqlite3"), max_output_bytes=2**21)


def test_the_reply_body_starts_with_the_output(server: Server, gpg_keys: GpgKeys) -> None:
    server.handle(request(gpg_keys, "pgp-mime", "echo first; echo second\n"))
    text = read_reply(server.raw[0]).text
    assert text.startswith("first\nsecond\n\nexit status 0 · ")
    assert text.rstrip().endswith(NEXT_COMMAND_MARKER)


def test_stderr_is_marked_in_the_body(server: Server, gpg_keys: GpgKeys) -> None:
    server.handle(request(gpg_keys, "pgp-mime", "echo out; echo oops >&2; exit 3\n"))
    reply = read_reply(server.raw[0])
    assert reply.text.startswith("out\n--- stderr ---\noops\n\nexit status 3")
    assert (reply.stdout, reply.stderr, reply.exit_status) == ("out\n", "oops\n", 3)


def test_a_megabyte_of_output_is_an_attachment_with_its_first_lines_inline(
    server: Server, gpg_keys: GpgKeys
) -> None:
    command = "head -c 1048576 /dev/zero | tr '\\0' x | fold -w 99\n"
    server.handle(request(gpg_keys, "pgp-mime", command))
    msg = server.sent[0][0]
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "stdout.txt"
    reply = read_reply(server.raw[0])
    assert len(reply.stdout) == 1048576 + 1048576 // 99  # fold adds no final line end
    text = reply.text
    assert text.startswith("x" * 99 + "\n" + "x" * 99 + "\n")
    assert "all of it in stdout.txt" in text
    assert len(text) < 4096


def test_without_a_server_key_the_reply_is_not_signed(server: Server, gpg_keys: GpgKeys) -> None:
    server.handle(request(gpg_keys, "clearsign", "true\n"))
    assert server.sent[0][0].get_content_type() == "text/plain"


def test_with_a_server_key_the_reply_verifies_with_gpg(
    keyed_server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    keyed_server.handle(request(gpg_keys, "pgp-mime", "echo signed\n"))
    raw = keyed_server.raw[0]
    msg = message_from_bytes(raw)
    assert msg.get_content_type() == "multipart/signed"
    assert msg.get_param("protocol") == "application/pgp-signature"
    boundary = msg.get_boundary()
    assert boundary is not None
    (tmp_path / "signed").write_bytes(first_part_bytes(raw, boundary))
    signature = msg.get_payload()[1].get_payload(decode=True)  # type: ignore[index, union-attr]
    (tmp_path / "sig.asc").write_bytes(signature)
    gpg = ["gpg", "--homedir", str(gpg_keys.signer.home), "--status-fd", "1"]
    done = subprocess.run(
        [*gpg, "--verify", str(tmp_path / "sig.asc"), str(tmp_path / "signed")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"VALIDSIG {gpg_keys.server_key}" in done.stdout
    reply = read_reply(raw)
    assert (reply.result, reply.stdout) == ("done", "signed\n")


def test_a_refusal_is_signed_too(keyed_server: Server, gpg_keys: GpgKeys) -> None:
    keyed_server.handle(request(gpg_keys, "clearsign", "Mailsh-To: root@other.example\ntrue\n"))
    assert message_from_bytes(keyed_server.raw[0]).get_content_type() == "multipart/signed"
    assert read_reply(keyed_server.raw[0]).refusal is not None


def test_the_reply_to_an_encrypted_request_is_signed_and_encrypted(
    keyed_server: Server, gpg_keys: GpgKeys
) -> None:
    keyed_server.handle(encrypted_request(gpg_keys, "echo sealed\n"))
    sealed = list(keyed_server.sent[0][0].iter_parts())[1].get_content()
    status = subprocess.run(
        ["gpg", "--homedir", str(gpg_keys.signer.home), "--status-fd", "2", "--decrypt"],
        input=sealed if isinstance(sealed, bytes) else sealed.encode(),
        capture_output=True,
        check=False,
    )
    assert status.returncode == 0
    assert f"VALIDSIG {gpg_keys.server_key}".encode() in status.stderr
    assert b"sealed" in status.stdout


def _reply(result: str, status: int | None = None, text: str = "") -> SendResult:
    return SendResult("<id>", Reply(result, status, "", "", text))


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (_reply("done", 0), 0),
        (_reply("done", 3), 3),
        (_reply("timeout", 137), EXIT_TIMED_OUT),
        (_reply("refused", text="mailsh refused this request: replay\n"), EXIT_REFUSED),
        (_reply("interrupted", text="interrupted\n"), EXIT_SOFTWARE),
    ],
    ids=["ok", "status", "timeout", "refused", "interrupted"],
)
def test_send_wait_exit_code_tells_the_outcomes_apart(reply: SendResult, code: int) -> None:
    assert reply.exit()[0] == code


def test_the_exit_codes_are_distinct() -> None:
    codes = {EXIT_NO_REPLY, EXIT_REFUSED, EXIT_SOFTWARE, EXIT_TIMED_OUT}
    assert len(codes) == 4


def test_a_refusal_says_its_reason() -> None:
    reply = _reply("refused", text="mailsh refused this request: replay of x\nNothing.\n")
    assert reply.exit()[1] == "mailsh: request refused: replay of x"


def _with_header(raw: bytes, name: bytes, value: bytes) -> bytes:
    """The same mail (same signature) with an unsigned header replaced."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = [
        line for line in head.split(b"\r\n") if not line.lower().startswith(name.lower() + b":")
    ]
    return b"\r\n".join([*lines, name + b": " + value]) + sep + body


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"Subject", b"=?utf-8?q?=FF=C3=A9?="),  # invalid UTF-8 in an encoded word
        (b"Subject", b"=?utf-8?b?lc29?="),
        (b"Message-ID", "=??q?=FF?=é".encode()),
        (b"References", "<a@b> =?x?q?=FF?= é <c@d>".encode()),
    ],
    ids=["subject q", "subject b", "message-id", "references"],
)
@pytest.mark.parametrize("keyed", [False, True], ids=["plain reply", "signed reply"])
def test_a_request_is_answered_whatever_its_unsigned_headers_hold(
    server: Server, keyed_server: Server, gpg_keys: GpgKeys, name: bytes, value: bytes, keyed: bool
) -> None:
    handler = keyed_server if keyed else server
    raw = _with_header(request(gpg_keys, "pgp-mime", "echo hi\n"), name, value)
    outcome = handler.handle(raw)
    assert outcome.result == "accepted", outcome.log_line
    [(reply, _)] = handler.sent
    assert read_reply(handler.raw[0]).stdout == "hi\n"
    assert str(reply["Subject"]).startswith("Re: ")
    if name == b"References":
        assert str(reply["References"]).split()[:2] == ["<a@b>", "<c@d>"]


def test_a_reply_whose_subject_cannot_be_written_goes_without_it() -> None:
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = "Re: =?utf-8?q?=FF=C3=A9?="  # the email package fails to fold it
    msg["In-Reply-To"] = "<x@y>"
    msg.set_content("output\n")
    data = serialized(msg, EmailMessage.as_bytes)
    written = message_from_bytes(data)
    assert written["Subject"] == "Re: mailsh request"
    assert written["In-Reply-To"] is None
