"""The real mutt (Debian's, with gpgme), driven through tmux as a person types.

mutt composes and signs the request itself: PGP/MIME through gpgme, or inline
(clear-signed) through the classic gpg commands of Debian's /etc/Muttrc.d/gpg.rc.
Its `sendmail` is a script that keeps the message in a file, which the test then
submits to the server; its `editor` is a script that writes what the person types
(above or below mutt's quote, as a top- or bottom-poster does). It also opens a
mailbox to show a message in its pager, where it checks PGP/MIME signatures.
Each instance runs its own tmux server (own socket), removed at the end.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.fixtures.gpg import ALICE, GpgKeys
from tests.waiting import wait_until

Mode = Literal["pgp-mime", "inline"]
Posting = Literal["none", "top", "bottom"]
SCREEN_TIMEOUT_S = 30.0
PROMPTS = ("To: ", "Subject: ", "Cc: ", "Bcc: ")


@dataclass
class Mutt:
    """A configured mutt for Alice, in `directory` (its muttrc, scripts and outbox)."""

    directory: Path
    keys: GpgKeys
    socket: Path
    answered: str = ""  # the screen of the last question answered

    def _muttrc(self, mode: Mode) -> Path:
        rc = self.directory / f"muttrc-{mode}"
        signature = self.directory / "signature"
        signature.write_text("Alice\nSent from mutt\n")
        inbox = self.directory / "inbox"
        inbox.touch()
        lines = [
            f"set folder={shlex.quote(str(self.directory))}",
            f"set spoolfile={shlex.quote(str(inbox))}",
            f"set mbox={shlex.quote(str(inbox))}",
            "set record=",
            f'set from="Alice <{ALICE}>"',
            "set use_from=yes",
            f"set sendmail={shlex.quote(str(self.directory / 'sendmail.sh'))}",
            f"set editor={shlex.quote(str(self.directory / 'editor.sh'))}",
            f"set signature={shlex.quote(str(signature))}",
            "set sig_dashes=yes",
            "set include=yes",
            "set fast_reply=yes",
            "set askcc=no",
            "set askbcc=no",
            "set copy=no",
            "set postpone=no",
            "set abort_unmodified=no",
            "set sleep_time=0",
            "set wait_key=no",
            "set mbox_type=mbox",
            "set move=no",
            "set confirmappend=no",
            "set send_charset=utf-8",
            "set crypt_autosign=yes",
            "set crypt_verify_sig=yes",
            "set crypt_replysign=yes",
            f"set pgp_sign_as={self.keys.alice}",
            f"set pgp_default_key={self.keys.alice}",
            f"set crypt_use_gpgme={'yes' if mode == 'pgp-mime' else 'no'}",
            f"set pgp_autoinline={'yes' if mode == 'inline' else 'no'}",
            "set pgp_timeout=3600",
        ]
        rc.write_text("\n".join(lines) + "\n")
        return rc

    def _scripts(self, typed: str, posting: Posting) -> None:
        outbox = self.directory / "outbox"
        sendmail = self.directory / "sendmail.sh"
        # Written aside, then renamed: the outbox appears whole.
        out = shlex.quote(str(outbox))
        sendmail.write_text(f"#!/bin/sh\ncat > {out}.tmp && mv {out}.tmp {out}\n")
        sendmail.chmod(0o755)
        (self.directory / "typed").write_text(typed)
        typed_path = shlex.quote(str(self.directory / "typed"))
        # mutt hands the editor the draft: its quote (and signature), or nothing yet.
        if posting == "bottom":
            # Below the quote, above the signature block mutt put at the end.
            edit = (
                'awk -v typed="$(cat ' + typed_path + ')" '
                '\'/^-- $/ && !done {print typed; print ""; done=1} {print} '
                'END {if (!done) print typed}\' "$1" > "$1.new" && mv "$1.new" "$1"'
            )
        else:
            edit = f'{{ cat {typed_path}; echo; cat "$1"; }} > "$1.new" && mv "$1.new" "$1"'
        editor = self.directory / "editor.sh"
        editor.write_text(f"#!/bin/sh\n{edit}\n")
        editor.chmod(0o755)
        outbox.unlink(missing_ok=True)

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, check=False
        )
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "mutt")

    def _server_gone(self) -> bool:
        with socket.socket(socket.AF_UNIX) as client:
            try:
                client.connect(str(self.socket))
            except (FileNotFoundError, ConnectionRefusedError):
                return True
        return False

    def _missing(self, what: object) -> str:
        return f"mutt never showed {what!r}; screen:\n{self.screen()}"

    def _wait_screen(self, *texts: str) -> str:
        def showing() -> str | None:
            screen = self.screen()
            return screen if any(text in screen for text in texts) else None

        return wait_until(showing, SCREEN_TIMEOUT_S, lambda: self._missing(texts), pause=0.1)

    def _start(self, mode: Mode, args: list[str]) -> None:
        env = {
            "GNUPGHOME": str(self.keys.signer.home),
            "HOME": str(self.directory),
            "TERM": "xterm",
            "LANG": "C.UTF-8",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        command = " ".join(shlex.quote(a) for a in ["mutt", "-F", str(self._muttrc(mode)), *args])
        # A new session on a tmux server that is still exiting fails ("server exited
        # unexpectedly"): stop the previous one and wait until it is gone.
        self._tmux("kill-server")
        wait_until(self._server_gone, 10, "the previous tmux server never exited", pause=0.05)
        subprocess.run(
            [
                "tmux",
                "-S",
                str(self.socket),
                "new-session",
                "-d",
                "-s",
                "mutt",
                "-x",
                "160",
                "-y",
                "50",
                "env",
                "-i",
                *(f"{k}={v}" for k, v in env.items()),
                "sh",
                "-c",
                f"{command}; sleep 30",
            ],
            check=True,
        )

    def _settled_screen(self) -> str | None:
        """The screen once mutt asks nothing; what it asks (To:, Subject:, or a yes/no
        question such as "Attachment #1 modified. Update encoding?") is accepted with
        Enter, once per question."""
        screen = self.screen()
        last = next((line for line in reversed(screen.split("\n")) if line.strip()), "")
        if last.startswith(PROMPTS) or last.rstrip().endswith("/no):"):
            if screen != self.answered:
                self._tmux("send-keys", "-t", "mutt", "Enter")
                self.answered = screen
            return None
        return screen

    def _send_from_compose_menu(self) -> bytes:
        def composed() -> bool:
            return "y:Send" in (self._settled_screen() or "")

        wait_until(composed, SCREEN_TIMEOUT_S, lambda: self._missing("y:Send"), pause=0.1)
        self._tmux("send-keys", "-t", "mutt", "y")
        outbox = self.directory / "outbox"

        def sent() -> bool:
            screen = self._settled_screen()
            return screen is not None and outbox.exists() and "y:Send" not in screen

        wait_until(sent, SCREEN_TIMEOUT_S, lambda: self._missing("the message sent"), pause=0.1)
        return outbox.read_bytes()

    def compose(self, mode: Mode, to: str, subject: str, typed: str) -> bytes:
        """A new message typed in mutt and signed on sending; the bytes mutt sends."""
        self._scripts(typed, "top")
        self._start(mode, ["-s", subject, "--", to])
        return self._send_from_compose_menu()

    def reply(self, mode: Mode, mailbox: Path, typed: str, posting: Posting) -> bytes:
        """`r` on the (only) message of `mailbox`, `typed` above or below mutt's quote."""
        self._scripts(typed, posting)
        self._start(mode, ["-f", str(mailbox)])
        self._wait_screen("r:Reply", "q:Quit")
        self._tmux("send-keys", "-t", "mutt", "r")
        return self._send_from_compose_menu()

    def view(self, mailbox: Path) -> str:
        """The pager's screen for the (only) message of `mailbox`, signature checked."""
        self._start("pgp-mime", ["-f", str(mailbox)])
        self._wait_screen("q:Quit")
        self._tmux("send-keys", "-t", "mutt", "Enter")
        return self._wait_screen("End signature information")


@contextmanager
def mutt(directory: Path, keys: GpgKeys) -> Iterator[Mutt]:
    directory.mkdir(parents=True, exist_ok=True)
    socket = directory / "tmux.sock"
    try:
        yield Mutt(directory, keys, socket)
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False)


def mbox(*messages: bytes) -> bytes:
    """An mbox holding `messages` (as postfix's local delivery writes them)."""
    out = b""
    for message in messages:
        body = message.replace(b"\r\n", b"\n")
        body = b"\n".join(
            b">" + line if line.startswith(b"From ") else line for line in body.split(b"\n")
        )
        out += b"From MAILER-DAEMON Mon Nov 30 00:05:00 2026\n" + body.rstrip(b"\n") + b"\n\n"
    return out
