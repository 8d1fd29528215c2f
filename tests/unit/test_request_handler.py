"""The request handler against real gpg keys, a real journal and the real sandbox."""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable
from email import message_from_bytes
from pathlib import Path

import pytest

from mailsh_server.handler import RequestOutcome
from mailsh_server.journal import ReplayJournal, process_start
from mailsh_server.run import RunResult, run_command
from mailsh_server.runner import RunnerLost, RunnerUnavailable
from mailsh_server.verify import KeyPolicy
from provision.client.replies import read_reply
from provision.client.request_mail import FORMATS, Format, request_text
from tests.fixtures.gpg import ALICE, GpgKeys
from tests.handler_server import Server, stream
from tests.requests_corpus import (
    BAD_REQUESTS,
    RECIPIENT,
    BadRequest,
    encrypted_request,
    request,
)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_runs_the_signed_command_and_answers(
    server: Server, gpg_keys: GpgKeys, fmt: Format
) -> None:
    outcome = server.handle(request(gpg_keys, fmt, "echo hello\n"))
    assert outcome.result == "accepted", outcome.log_line
    reply, to = server.sent[0]
    assert to == ALICE
    assert stream(reply, "stdout") == "hello\n"
    assert reply["X-Mailsh-Exit-Status"] == "0"
    assert str(reply["Subject"]) == "Re: mailsh request"


def test_reply_refers_to_the_request(server: Server, gpg_keys: GpgKeys) -> None:
    raw = request(gpg_keys, "clearsign", "true\n")
    msg_id = message_from_bytes(raw)["Message-ID"]
    server.handle(raw)
    reply, _ = server.sent[0]
    assert reply["In-Reply-To"] == msg_id
    assert msg_id in reply["References"]


@pytest.mark.parametrize("bad", BAD_REQUESTS, ids=lambda b: b.name)
def test_bad_request_is_never_executed_and_logged_with_its_reason(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path, bad: BadRequest
) -> None:
    marker = tmp_path / "marker"
    outcome = server.handle(bad.build(gpg_keys, str(marker)))
    assert not marker.exists()
    assert bad.reason in outcome.log_line


def test_corpus_has_at_least_thirty_bad_requests() -> None:
    assert len(BAD_REQUESTS) >= 30


def test_replayed_request_is_not_executed(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    raw = request(gpg_keys, "pgp-mime", f"echo run >> {counter}\n")
    assert server.handle(raw).result == "accepted"
    again = server.handle(raw)
    assert again.result == "refused"
    assert "replay" in again.reason
    assert counter.read_text() == "run\n"


def test_unknown_signer_gets_no_reply(server: Server) -> None:
    server.handle(b"From: stranger@elsewhere.example\nSubject: hi\n\ntouch /tmp/x\n")
    assert server.sent == []


def test_known_signer_is_told_why_a_request_was_refused(server: Server, gpg_keys: GpgKeys) -> None:
    raw = request(gpg_keys, "clearsign", "Mailsh-To: root@other.example\necho hi\n")
    server.handle(raw)
    ((reply, to),) = server.sent
    assert to == ALICE
    assert reply["X-Mailsh-Result"] == "refused"
    assert "bound to root@other.example" in reply.get_content()


def test_reply_on_reject_answers_unknown_senders(gpg_keys: GpgKeys, journal: ReplayJournal) -> None:
    server = Server(gpg_keys, journal, reply_on_reject=True)
    server.handle(b"From: stranger@elsewhere.example\nSubject: hi\n\ntouch /tmp/x\n")
    ((reply, to),) = server.sent
    assert to == "stranger@elsewhere.example"
    assert "no signed command" in reply.get_content()


def test_required_binding_refuses_an_unbound_request(
    gpg_keys: GpgKeys, journal: ReplayJournal
) -> None:
    server = Server(gpg_keys, journal, require_binding=True)
    outcome = server.handle(request(gpg_keys, "clearsign", "echo hi\n"))
    assert "does not start with 'Mailsh-To:" in outcome.reason


def test_bound_request_runs_without_its_binding_line(
    gpg_keys: GpgKeys, journal: ReplayJournal
) -> None:
    server = Server(gpg_keys, journal, require_binding=True)
    outcome = server.handle(
        request(gpg_keys, "attachment", f"Mailsh-To: {RECIPIENT}\necho bound\n")
    )
    assert outcome.result == "accepted"
    assert stream(server.sent[0][0], "stdout") == "bound\n"


def test_configured_reply_to_may_receive_the_reply(
    gpg_keys: GpgKeys, journal: ReplayJournal
) -> None:
    server = Server(gpg_keys, journal)
    keys = dict(server.settings.policy.keys)
    keys[gpg_keys.alice] = KeyPolicy(gpg_keys.alice, reply_to="ops@client.example")
    server.settings.policy.keys.update(keys)
    raw = request(gpg_keys, "clearsign", "echo hi\n").replace(
        f"From: {ALICE}".encode(), b"From: ops@client.example"
    )
    outcome = server.handle(raw)
    assert outcome.result == "accepted", outcome.log_line
    assert server.sent[0][1] == "ops@client.example"


def test_interrupted_request_is_answered_and_not_rerun(
    server: Server, gpg_keys: GpgKeys, journal: ReplayJournal, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    raw = request(gpg_keys, "clearsign", f"echo run >> {counter}\n")
    ran: list[str] = []

    def crash(command: str, *_: object) -> None:
        ran.append(command)
        raise KeyboardInterrupt  # the handler dies mid-run

    server.handler.runner = crash  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        server.handle(raw)
    # A dead handler's pid: the entry's owner no longer exists.
    journal._db.execute("UPDATE requests SET owner_pid = 999999")
    server.handler.runner = _never_runs
    outcome = server.handle(raw)
    assert outcome.result == "interrupted"
    assert server.sent[-1][0]["X-Mailsh-Result"] == "interrupted"
    assert len(ran) == 1


def _never_runs(*_: object) -> None:
    raise AssertionError("an interrupted request must not run again")


def test_a_request_whose_runner_stopped_mid_run_is_answered_and_never_rerun(
    server: Server, gpg_keys: GpgKeys
) -> None:
    """The runner took the command, then gave no result (restarted, killed): the command
    may have run. The sender is told so; postfix's retry or a replay runs nothing."""
    raw = request(gpg_keys, "clearsign", "echo once\n")
    ran: list[str] = []

    def lost(command: str, *_: object) -> RunResult:
        ran.append(command)
        raise RunnerLost("no answer from the command runner")

    server.handler.runner = lost
    outcome = server.handle(raw)
    assert outcome.result == "interrupted"
    reply, _ = server.sent[-1]
    assert reply["X-Mailsh-Result"] == "interrupted"
    assert "command runner stopped while it ran" in read_reply(server.raw[-1]).text
    server.handler.runner = _never_runs  # type: ignore[assignment]
    assert server.handle(raw).result == "refused"
    assert ran == ["echo once\n"]


def test_request_is_refused_while_the_same_one_still_runs(
    server: Server, gpg_keys: GpgKeys, journal: ReplayJournal
) -> None:
    raw = request(gpg_keys, "clearsign", "echo hi\n")
    # The first copy is running in this very (live) process.
    outcome_holder: list[RequestOutcome] = []

    def nested_copy(command: str, *_: object) -> None:
        outcome_holder.append(server.handle(raw))
        raise KeyboardInterrupt

    server.handler.runner = nested_copy  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        server.handle(raw)
    assert outcome_holder[0].result == "refused"
    assert "still running" in outcome_holder[0].reason


def test_reply_is_sent_again_when_sending_failed_not_the_command(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    raw = request(gpg_keys, "clearsign", f"echo run >> {counter}\n")
    real_send: Callable[[bytes, str], None] = server.handler.sender

    def failing(_raw: bytes, _to: str) -> None:
        raise OSError("postdrop unavailable")

    server.handler.sender = failing
    with pytest.raises(OSError):
        server.handle(raw)
    server.handler.sender = real_send
    assert server.handle(raw).result == "answered"
    assert counter.read_text() == "run\n"
    assert stream(server.sent[0][0], "stdout").strip() == ""


def test_signed_at_is_checked_against_the_clock(server: Server, gpg_keys: GpgKeys) -> None:
    raw = request(gpg_keys, "clearsign", "echo hi\n")
    server.handler.clock = lambda: time.time() + 3600
    assert "old (max_age_s = 600)" in server.handle(raw).reason


def test_encrypted_request_runs_and_the_reply_is_encrypted_to_the_signer(
    gpg_keys: GpgKeys, keyed_server: Server
) -> None:
    server = keyed_server
    outcome = server.handle(encrypted_request(gpg_keys, "echo secret output\n"))
    assert outcome.result == "accepted", outcome.log_line
    reply, _ = server.sent[0]
    assert reply.get_content_type() == "multipart/encrypted"
    assert b"secret output" not in reply.as_bytes()
    sealed = list(reply.iter_parts())[1].get_content()
    opened = gpg_keys.signer.run(
        "--decrypt", data=sealed if isinstance(sealed, bytes) else sealed.encode()
    )
    assert b"secret output" in opened


def test_encrypted_request_without_a_server_key_is_refused(
    server: Server, gpg_keys: GpgKeys
) -> None:
    outcome = server.handle(encrypted_request(gpg_keys, "echo hi\n"))
    assert "no key of its own" in outcome.reason


def test_a_key_configured_with_its_own_run_as_runs_as_that_user(
    gpg_keys: GpgKeys, journal: ReplayJournal
) -> None:
    server = Server(gpg_keys, journal)
    server.settings.policy.keys[gpg_keys.alice] = KeyPolicy(gpg_keys.alice, run_as="deploy")
    users: list[str] = []

    def runner(command: str, run_as: str, timeout_s: int, cap: int, *_: object) -> RunResult:
        users.append(run_as)
        return run_command(command, getpass.getuser(), timeout_s, cap)

    server.handler.runner = runner
    assert server.handle(request(gpg_keys, "clearsign", "true\n")).result == "accepted"
    assert users == ["deploy"]


def test_the_same_command_with_two_request_ids_is_two_requests(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    command = f"echo run >> {counter}\n"
    first = request(gpg_keys, "clearsign", request_text(RECIPIENT, "id-one", command))
    second = request(gpg_keys, "clearsign", request_text(RECIPIENT, "id-two", command))
    outcomes = [server.handle(first), server.handle(second)]
    assert [o.result for o in outcomes] == ["accepted", "accepted"]
    assert [o.request_id for o in outcomes] == ["id-one", "id-two"]
    assert counter.read_text() == "run\nrun\n"


def test_what_the_mail_client_added_is_logged_rule_by_rule(
    server: Server, gpg_keys: GpgKeys
) -> None:
    outcome = server.handle(request(gpg_keys, "pgp-mime", "uptime\n\n-- \nAlice\n"))
    (line,) = outcome.cut_lines()
    assert "signature block" in line
    assert "removed=['-- ', 'Alice']" in line


def test_a_request_the_runner_could_not_start_runs_on_the_retry(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    raw = request(gpg_keys, "clearsign", f"echo run >> {counter}\n")
    real = server.handler.runner

    def unreachable(*_: object) -> RunResult:
        raise RunnerUnavailable("no runner")

    server.handler.runner = unreachable
    with pytest.raises(RunnerUnavailable):
        server.handle(raw)
    server.handler.runner = real
    assert server.handle(raw).result == "accepted"
    assert counter.read_text() == "run\n"


def test_a_copy_arriving_while_another_handler_sends_the_reply_gets_no_second_reply(
    server: Server, gpg_keys: GpgKeys, journal: ReplayJournal
) -> None:
    raw = request(gpg_keys, "clearsign", "echo once\n")
    assert server.handle(raw).result == "accepted"
    # As if another, live handler had run it and were still handing its reply over.
    journal._db.execute(
        "UPDATE requests SET reply_sent = 0, owner_pid = ?, owner_started = ?",
        (os.getppid(), process_start(os.getppid())),
    )
    outcome = server.handle(raw)
    assert outcome.result == "refused"
    assert "replay" in outcome.reason
    assert len(server.sent) == 1  # the first reply; a copy is never answered


@pytest.mark.parametrize("reply_on_reject", [False, True])
def test_a_replay_is_logged_and_never_answered(
    gpg_keys: GpgKeys, journal: ReplayJournal, reply_on_reject: bool
) -> None:
    # Anyone who saw a request could resend it, as often as they like: the server must
    # not mail its signer (or the copy's From) each time. The original was answered.
    server = Server(gpg_keys, journal, reply_on_reject=reply_on_reject)
    raw = request(gpg_keys, "clearsign", "echo once\n")
    assert server.handle(raw).result == "accepted"
    copies = [server.handle(raw) for _ in range(3)]
    assert [o.reason for o in copies] == ["replay of an already accepted request"] * 3
    assert len(server.sent) == 1
