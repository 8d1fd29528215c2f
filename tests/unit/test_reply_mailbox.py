"""Reading the local-mode reply mailbox while postfix appends to it."""

from __future__ import annotations

from mailsh_server.reply_mailbox import split_mbox

ONE = b"From MAILER-DAEMON Mon Nov 30 00:00:00 2026\nSubject: a\n\nbody\n\n"


def test_an_empty_mailbox_holds_no_message() -> None:
    assert split_mbox(b"") == []


def test_complete_messages_are_returned_and_one_being_written_is_not() -> None:
    partial = b"From MAILER-DAEMON Mon Nov 30 00:00:01 2026\nSubject: b\n\nbo"
    assert split_mbox(ONE + partial) == [b"Subject: a\n\nbody\n\n"]
