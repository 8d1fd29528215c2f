"""Requests as real mail clients send them, through the container (acceptance of issue 11):
the right command runs once, nothing the client added runs, and the reply says what was
cut. mutt is the real one (tests/mutt.py), driven through tmux."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from provision.client.transport import wait_local
from tests.fixtures.gpg import GpgKeys
from tests.fixtures.requests import Reply, submit, wait_reply
from tests.fixtures.server import RunningServer
from tests.mail_clients import (
    CLIENTS,
    Client,
    Posting,
    html_only_pgp_mime,
    previous_reply_body,
    written,
)
from tests.mutt import Mode, mbox, mutt

POSTINGS: list[Posting] = ["none", "top", "bottom"]


def _paths() -> tuple[str, str]:
    stem = f"/tmp/m-{uuid.uuid4().hex[:8]}"
    return f"{stem}-count", f"{stem}-quoted"


def _ran_once_and_nothing_else(
    server: RunningServer, reply: Reply, counter: str, marker: str
) -> None:
    assert reply.result == "done", reply.text
    assert reply.stream("stderr") == ""
    _, count = server.exec(["cat", counter])
    assert count == "ran\n"
    code, _ = server.exec(["test", "-e", marker])
    assert code != 0, f"a quoted line ran: {marker} exists"


@pytest.mark.parametrize("posting", POSTINGS)
@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.name)
def test_a_client_shaped_request_runs_once_without_what_the_client_added(
    request_server: RunningServer, gpg_keys: GpgKeys, client: Client, posting: Posting
) -> None:
    counter, marker = _paths()
    quoted = previous_reply_body(f"{marker}\n")
    text = written(f"echo ran >> {counter}; echo hi", client.style, posting, quoted)
    reply = wait_reply(request_server, submit(request_server, client.build(gpg_keys, text)))
    _ran_once_and_nothing_else(request_server, reply, counter, marker)
    assert reply.stream("stdout") == "hi\n"
    assert "Not run (added by your mail client)" in reply.text
    assert "signature block" in reply.text


@pytest.mark.parametrize("mode", ["pgp-mime", "inline"])
def test_a_request_signed_by_the_real_mutt_runs_without_its_signature(
    request_server: RunningServer, gpg_keys: GpgKeys, tmp_path: Path, mode: Mode
) -> None:
    counter, marker = _paths()
    with mutt(tmp_path / "mutt", gpg_keys) as client:
        raw = client.compose(
            mode, request_server.settings.request_recipient, "mailsh", f"echo ran >> {counter}\n"
        )
    assert (b"multipart/signed" in raw) == (mode == "pgp-mime")
    reply = wait_reply(request_server, submit(request_server, raw))
    _ran_once_and_nothing_else(request_server, reply, counter, marker)
    assert "signature block" in reply.text


@pytest.mark.parametrize("posting", ["top", "bottom"])
@pytest.mark.parametrize("mode", ["pgp-mime", "inline"])
def test_replying_in_mutt_to_the_servers_reply_runs_only_the_new_command(
    request_server: RunningServer, gpg_keys: GpgKeys, tmp_path: Path, mode: Mode, posting: Posting
) -> None:
    counter, marker = _paths()
    with mutt(tmp_path / "mutt", gpg_keys) as client:
        first = client.compose(
            mode, request_server.settings.request_recipient, "mailsh: ls", f"echo {marker}\n"
        )
        msg_id = submit(request_server, first)
        previous = wait_local(request_server.settings, request_server.client, msg_id, 30)
        mailbox = tmp_path / "replies.mbox"
        mailbox.write_bytes(mbox(previous))
        raw = client.reply(mode, mailbox, f"echo ran >> {counter}\n", posting)
    assert f"> {marker}".encode() in raw.replace(b"=\n", b"") or marker.encode() in raw
    reply = wait_reply(request_server, submit(request_server, raw))
    _ran_once_and_nothing_else(request_server, reply, counter, marker)
    assert reply.message["Subject"] == "Re: mailsh: ls"
    assert f"quoted reply ({posting}-posted)" in reply.text


def test_an_html_only_request_is_refused_with_how_to_send_plain_text(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    counter, _ = _paths()
    raw = html_only_pgp_mime(gpg_keys, f"echo ran >> {counter}\n")
    reply = wait_reply(request_server, submit(request_server, raw))
    assert reply.result == "refused"
    assert "HTML only" in reply.text and "Plain Text" in reply.text
    code, _ = request_server.exec(["test", "-e", counter])
    assert code != 0
