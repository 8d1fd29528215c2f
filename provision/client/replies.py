"""Reading a server reply (plain, PGP/MIME signed or encrypted): what happened, the exit
status, stdout and stderr; and what `invoke send --wait` exits with for it (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from mailsh_server.protocol import (
    EXIT_HEADER,
    REFUSED_PREFIX,
    RESULT_HEADER,
    STDERR_LINES_HEADER,
    STDERR_MARK,
    STDERR_PART,
    STDOUT_LINES_HEADER,
    STDOUT_PART,
)

# `invoke send --wait` exit statuses besides the command's own (0-255). A command that
# itself exits with one of these is told apart by the "mailsh:" line on stderr.
EXIT_SOFTWARE = 70  # the request was interrupted on the server or its output withheld
EXIT_NO_REPLY = 75  # EX_TEMPFAIL: no reply within --timeout (it may still come)
EXIT_REFUSED = 77  # EX_NOPERM: the server refused the request; nothing ran
EXIT_TIMED_OUT = 124  # as timeout(1): the command ran past timeout_s and was killed


@dataclass(frozen=True)
class Reply:
    """A server reply as `invoke send --wait` reads it."""

    result: str  # done, timeout, refused, interrupted, withheld (or unknown)
    exit_status: int | None
    stdout: str
    stderr: str
    text: str  # the body as a person reads it

    @property
    def refusal(self) -> str | None:
        """The reason of a refusal (its body's first line), else None."""
        if self.result != "refused":
            return None
        first = self.text.split("\n", 1)[0]
        return first.removeprefix(REFUSED_PREFIX)

    def exit(self) -> tuple[int, str | None]:
        """What `send --wait` exits with, and the line it says on stderr (if any)."""
        if self.result == "done" and self.exit_status is not None:
            return self.exit_status, None
        if self.result == "timeout":
            return EXIT_TIMED_OUT, "mailsh: the command ran past timeout_s and was killed"
        if self.result == "refused":
            return EXIT_REFUSED, f"mailsh: request refused: {self.refusal}"
        why = self.text.strip().split("\n", 1)[0] or self.result
        return EXIT_SOFTWARE, f"mailsh: request {self.result}: {why}"


def _attachment(msg: EmailMessage, filename: str) -> str | None:
    for part in msg.iter_attachments():
        if part.get_filename() == filename and isinstance(part, EmailMessage):
            return _lf(str(part.get_content()))
    return None


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def _count(msg: EmailMessage, header: str) -> int:
    value = str(msg.get(header, "0")).strip()
    return int(value) if value.isdigit() else 0


def _streams(msg: EmailMessage, text: str) -> tuple[str, str]:
    """stdout and stderr: whole from their attachments, else the body's first lines
    (stdout) and the lines after the stderr mark."""
    lines = text.split("\n")
    n_out, n_err = _count(msg, STDOUT_LINES_HEADER), _count(msg, STDERR_LINES_HEADER)
    stdout = _attachment(msg, STDOUT_PART)
    if stdout is None:
        stdout = "".join(f"{line}\n" for line in lines[:n_out])
    stderr = _attachment(msg, STDERR_PART)
    if stderr is None:
        mark = next((i for i in range(n_out, len(lines)) if lines[i] == STDERR_MARK), None)
        taken = lines[mark + 1 : mark + 1 + n_err] if mark is not None else []
        stderr = "".join(f"{line}\n" for line in taken)
    return stdout, stderr


def parse_reply(
    raw: bytes, decrypt: Callable[[bytes], bytes] | None = None
) -> tuple[str, int | None, str, str]:
    """A server reply: result (done, timeout, refused, interrupted), exit status, stdout,
    stderr. For refusals and notices the body text comes back as stderr."""
    reply = read_reply(raw, decrypt)
    if reply.result in ("done", "timeout"):
        return reply.result, reply.exit_status, reply.stdout, reply.stderr
    return reply.result, None, "", reply.text


def read_reply(raw: bytes, decrypt: Callable[[bytes], bytes] | None = None) -> Reply:
    """A server reply (plain, PGP/MIME signed, or encrypted when `decrypt` is given)."""
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    if msg.get_content_type() == "multipart/encrypted":
        if decrypt is None:
            raise ValueError("the reply is encrypted and no key was given to open it")
        sealed = list(msg.iter_parts())[1].get_payload(decode=True)
        assert isinstance(sealed, bytes)
        # The result and exit status are protected headers of the decrypted part.
        inner = message_from_bytes(decrypt(sealed), policy=policy.default)
        assert isinstance(inner, EmailMessage)
        msg = inner
    elif msg.get_content_type() == "multipart/signed":
        signed = next(iter(msg.iter_parts()), None)
        assert isinstance(signed, EmailMessage)
        for name in (RESULT_HEADER, EXIT_HEADER, STDOUT_LINES_HEADER, STDERR_LINES_HEADER):
            if signed.get(name) is None and msg.get(name) is not None:
                signed[name] = str(msg[name])
        msg = signed
    result = str(msg.get(RESULT_HEADER, "unknown"))
    status = msg.get(EXIT_HEADER)
    body = msg.get_body(("plain",))
    text = _lf(str(body.get_content())) if isinstance(body, EmailMessage) else ""
    if result in ("done", "timeout"):
        stdout, stderr = _streams(msg, text)
        exit_status = int(str(status)) if status is not None else None
        return Reply(result, exit_status, stdout, stderr, text)
    return Reply(result, None, "", "", text)
