"""Pure parts of the client and keyring install: gpg listings, reply parsing."""

from __future__ import annotations

from email.message import EmailMessage

from mailsh_server.keylist import parse_listing
from provision.client.replies import parse_reply

FPR = "0123456789ABCDEF0123456789ABCDEF01234567"


def test_only_primary_fingerprints_are_listed() -> None:
    listing = (
        "pub:u:255:22:AAAA:1:::u:::scESC:\nfpr:::::::::" + FPR + ":\n"
        "sub:u:255:18:BBBB:1::::::e:\nfpr:::::::::" + "F" * 40 + ":\n"
    )
    assert list(parse_listing(listing)) == [FPR]


def test_reply_parts_come_back_as_stdout_stderr_and_status() -> None:
    msg = EmailMessage()
    msg["X-Mailsh-Result"] = "done"
    msg["X-Mailsh-Exit-Status"] = "3"
    msg.set_content("exit status: 3\n")
    msg.add_attachment("out\n", subtype="plain", disposition="inline", filename="stdout.txt")
    msg.add_attachment("err\n", subtype="plain", disposition="inline", filename="stderr.txt")
    assert parse_reply(msg.as_bytes()) == ("done", 3, "out\n", "err\n")
