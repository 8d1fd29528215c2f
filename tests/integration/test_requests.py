"""Shell by mail through the real container: postfix, the pipe transport, gpg, sudo."""

from __future__ import annotations

import subprocess
import uuid
from email.utils import make_msgid
from pathlib import Path

import pytest

from provision.client.request_mail import FORMATS, Format
from tests.fixtures.gpg import ALICE, GpgKeys
from tests.fixtures.requests import handler_log_line, submit, wait_reply
from tests.fixtures.server import RunningServer
from tests.requests_corpus import BAD_REQUESTS, BadRequest, request


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_round_trips(
    request_server: RunningServer, gpg_keys: GpgKeys, fmt: Format
) -> None:
    msg_id = submit(request_server, request(gpg_keys, fmt, f"echo hello  # {fmt}\n"))
    reply = wait_reply(request_server, msg_id)
    assert reply.result == "done", reply.text
    assert reply.stream("stdout") == "hello\n"


def test_a_request_made_the_original_way_round_trips(
    request_server: RunningServer, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    """`gpg --armor --sign cmd.sh`, `uuencode`, and a mailx-style plain body."""
    script = tmp_path / "cmd.sh"
    script.write_text("echo hello\n")
    gpg = ["gpg", "--homedir", str(gpg_keys.signer.home), "--batch", "--yes"]
    subprocess.run(
        [*gpg, "--local-user", gpg_keys.alice, "--armor", "--sign", str(script)],
        check=True,
        capture_output=True,
    )
    encoded = subprocess.run(
        ["uuencode", f"{script}.asc", "cmd.sh.asc"], check=True, capture_output=True
    ).stdout
    msg_id = make_msgid(domain="client.example")
    raw = (
        f"From: {ALICE}\nTo: {request_server.settings.request_recipient}\n"
        f"Subject: cmd\nMessage-ID: {msg_id}\n\n"
    ).encode() + encoded
    submit(request_server, raw)
    reply = wait_reply(request_server, msg_id)
    assert reply.stream("stdout") == "hello\n"


def test_command_runs_as_mailsh_not_root(request_server: RunningServer, gpg_keys: GpgKeys) -> None:
    msg_id = submit(request_server, request(gpg_keys, "clearsign", "id -u; id -un\n"))
    reply = wait_reply(request_server, msg_id)
    uid, name = reply.stream("stdout").split()
    assert name == "mailsh"
    assert uid != "0"


def test_command_past_timeout_is_killed_with_its_children_and_answered(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    command = "sleep 300 &\necho $! > /tmp/mailsh-child-pid\nsleep 300\n"
    msg_id = submit(request_server, request(gpg_keys, "clearsign", command))
    reply = wait_reply(request_server, msg_id)
    assert reply.result == "timeout"
    assert "killed" in reply.text
    _, pid = request_server.exec(["cat", "/tmp/mailsh-child-pid"])
    code, _ = request_server.exec(["kill", "-0", pid.strip()])
    assert code != 0, "the background child survived the timeout"


def test_output_over_the_cap_is_truncated_with_a_notice(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    msg_id = submit(request_server, request(gpg_keys, "pgp-mime", "seq 1 100000\n"))
    reply = wait_reply(request_server, msg_id)
    stdout = reply.stream("stdout")
    assert "stdout truncated" in stdout
    assert len(stdout) < 4096 + 200


CONTAINER_CORPUS = [
    b
    for b in BAD_REQUESTS
    if b.name
    in {
        "unsigned",
        "unknown key",
        "tampered PGP/MIME body",
        "expired key",
        "revoked key",
        "stale signature",
        "signed part plus an unsigned part",
        "malformed MIME",
        "reply-to not on the key",
        "tampered clear-signed text",
    }
]


@pytest.mark.parametrize("bad", CONTAINER_CORPUS, ids=lambda b: b.name)
def test_bad_request_through_the_container_is_not_executed_and_logged(
    request_server: RunningServer, gpg_keys: GpgKeys, bad: BadRequest
) -> None:
    marker = f"/tmp/marker-{uuid.uuid4().hex}"
    raw = bad.build(gpg_keys, marker)
    msg_id = submit(request_server, raw)
    line = handler_log_line(request_server, msg_id)
    assert bad.reason in line
    code, _ = request_server.exec(["test", "-e", marker])
    assert code != 0, f"{marker} was created"
