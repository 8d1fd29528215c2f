"""What a handler child keeps between requests: its SMTP connection and its journal."""

from __future__ import annotations

import multiprocessing
import smtplib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailsh_server.journal import Claim, ReplayJournal
from mailsh_server.reply import Outbox
from tests.lab.docker_lab import free_port


class Recorder:
    """An SMTP server's handler that records each message with the session it came on."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, str, bytes]] = []
        self.sessions: list[Session] = []
        self.fail_data = False

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.fail_data:
            return "451 4.3.0 try again later"
        if session not in self.sessions:
            self.sessions.append(session)
        rcpt = envelope.rcpt_tos[0]
        assert isinstance(envelope.content, bytes)
        self.messages.append((self.sessions.index(session), rcpt, envelope.content))
        return "250 2.0.0 queued"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, Controller]]:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield recorder, controller
    finally:
        controller.stop()


def reply(n: int) -> bytes:
    return f"From: mailsh@server.example\r\nSubject: reply {n}\r\n\r\noutput {n}\r\n".encode()


def test_replies_of_one_handler_child_share_one_smtp_connection(
    smtp_server: tuple[Recorder, Controller],
) -> None:
    recorder, controller = smtp_server
    outbox = Outbox("127.0.0.1", controller.port)
    for n in range(3):
        outbox.send(reply(n), f"user{n}@client.example")
    outbox.close()
    assert [(s, r) for s, r, _ in recorder.messages] == [
        (0, "user0@client.example"),
        (0, "user1@client.example"),
        (0, "user2@client.example"),
    ]
    assert b"output 2" in recorder.messages[2][2]


def test_a_connection_closed_between_replies_is_replaced(
    smtp_server: tuple[Recorder, Controller],
) -> None:
    """postfix may end an idle session (a reload, its timeout): the next reply still goes."""
    recorder, controller = smtp_server
    outbox = Outbox("127.0.0.1", controller.port)
    outbox.send(reply(1), "a@client.example")
    assert outbox._smtp is not None
    outbox._smtp.sock.close()  # type: ignore[union-attr]  # the server side is gone
    outbox.send(reply(2), "b@client.example")
    outbox.close()
    assert [r for _, r, _ in recorder.messages] == ["a@client.example", "b@client.example"]


def test_a_refused_reply_is_an_error_and_is_not_sent_twice(
    smtp_server: tuple[Recorder, Controller],
) -> None:
    """The request stays queued in postfix; its journaled reply goes out on the retry."""
    recorder, controller = smtp_server
    outbox = Outbox("127.0.0.1", controller.port)
    recorder.fail_data = True
    with pytest.raises(smtplib.SMTPDataError):
        outbox.send(reply(1), "a@client.example")
    recorder.fail_data = False
    outbox.send(reply(2), "a@client.example")
    outbox.close()
    assert [b"output 2" in m for _, _, m in recorder.messages] == [True]


def _claim_many(path: str, digests: list[str], results: Any) -> None:
    journal = ReplayJournal(Path(path))
    for digest in digests:
        claim = journal.claim(digest, "F" * 40, 1, None, time.time())
        if claim == Claim.NEW:
            journal.finish(digest, "exit 0", b"reply", time.time())
            journal.reply_sent(digest)
        results.put((digest, str(claim)))
    journal.close()


def test_concurrent_handlers_claim_each_signature_once(tmp_path: Path) -> None:
    """Eight handler processes write the journal side by side, each claiming the same
    60 signatures: each signature is claimed by exactly one of them, and every
    other copy is refused (running or finished)."""
    path = tmp_path / "journal.sqlite3"
    ReplayJournal(path).close()
    digests = [f"{n:064x}" for n in range(60)]
    results: Any = multiprocessing.get_context("fork").Queue()
    workers = [
        multiprocessing.get_context("fork").Process(
            target=_claim_many, args=(str(path), digests, results)
        )
        for _ in range(8)
    ]
    for w in workers:
        w.start()
    rows = [results.get(timeout=60) for _ in range(8 * len(digests))]
    for w in workers:
        w.join(timeout=60)
    new = [d for d, claim in rows if claim == Claim.NEW]
    assert sorted(new) == digests
    assert {claim for _, claim in rows} <= {Claim.NEW, Claim.RUNNING, Claim.FINISHED}
    assert all(w.exitcode == 0 for w in workers)


def test_a_claim_is_synced_to_disk_before_the_command_may_start(tmp_path: Path) -> None:
    # A power cut must not lose a claim postfix would then redeliver and run again:
    # the claim commits with synchronous=FULL; later writes go back to NORMAL.
    journal = ReplayJournal(tmp_path / "journal.sqlite3")
    statements: list[tuple[str, int]] = []

    def trace(sql: str) -> None:
        if sql.lstrip().upper().startswith("INSERT"):
            level = journal._db.execute("PRAGMA synchronous").fetchone()[0]
            statements.append(("insert", level))

    journal._db.set_trace_callback(trace)
    assert journal.claim("d1", "FPR", 1, None, time.time()) == Claim.NEW
    journal._db.set_trace_callback(None)
    assert statements == [("insert", 2)]  # 2: FULL
    assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL again
    journal.close()
