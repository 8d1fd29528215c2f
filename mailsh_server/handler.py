"""Handle one request mail: verify, run at most once, answer.

`handle` decides and acts through the objects passed in, so tests drive it
with a real keyring and journal but no postfix. `handle_message` is what the
resident handler (`daemon`, over LMTP) runs per request: 0 once it is
answered or refused and logged, 75 (EX_TEMPFAIL) only for the server's own
trouble (gpg missing, a full disk), when postfix should keep it and retry.
Whatever is wrong with the mail itself is a refusal, never a retry.
"""

from __future__ import annotations

import re
import resource
import syslog
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import TypeVar

from mailsh_server.command import Cut
from mailsh_server.journal import Claim, ReplayJournal
from mailsh_server.keyring import Keyring, Verification
from mailsh_server.limits import BudgetExceeded, time_budget
from mailsh_server.message import (
    Envelope,
    Payload,
    PayloadKind,
    Replay,
    RequestRefused,
    SignedBody,
    envelope_of,
    find_payload,
    parse_request,
    protected_subject,
    signed_entity_body,
)
from mailsh_server.paths import JOURNAL, SERVER_DIR, SERVER_SETTINGS
from mailsh_server.reply import (
    Outbox,
    encrypted_reply,
    notice_reply,
    notice_reply_like,
    refusal_text,
    result_reply,
    serialized,
    signed_reply,
)
from mailsh_server.run import CommandLimits, RunResult, run_command
from mailsh_server.runner import RunnerError, RunnerLost, RunnerUnavailable
from mailsh_server.sandbox import NotStarted
from mailsh_server.settings import ServerSettings, load_settings
from mailsh_server.verify import Accepted, accept

MAX_REQUEST_BYTES = 4 * 1024 * 1024
EX_TEMPFAIL = 75
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")

_T = TypeVar("_T")
Runner = Callable[[str, str, int, int, CommandLimits], RunResult]
Sender = Callable[[bytes, str], None]


@dataclass(frozen=True)
class RequestOutcome:
    """What happened to one request; `log_line` is what `invoke logs` shows."""

    result: str
    reason: str
    signer: str | None = None
    digest: str | None = None
    reply_to: str | None = None
    exit_status: int | None = None
    cuts: tuple[Cut, ...] = ()
    request_id: str | None = None

    @property
    def log_line(self) -> str:
        return self.format()

    def format(self, **cost: object) -> str:
        """One log line; `cost` (time, memory) goes before the reason, which ends it."""
        fields = [self.result]
        for name in ("signer", "reply_to", "exit_status", "request_id"):
            value = getattr(self, name)
            if value is not None:
                fields.append(f"{name}={value}")
        if self.digest:
            fields.append(f"request={self.digest[:16]}")
        fields += [f"{name}={value}" for name, value in cost.items()]
        fields.append(f"reason={self.reason}")
        return _UNPRINTABLE.sub("?", " ".join(fields))[:1000]

    def cut_lines(self) -> list[str]:
        """One log line per rule that removed what the mail client added: what it removed."""
        request = f" request={self.digest[:16]}" if self.digest else ""
        return [
            _UNPRINTABLE.sub("?", f"cut{request} {cut.describe()} removed={list(cut.lines)!r}")[
                :1000
            ]
            for cut in self.cuts
        ]


def _headers_only(raw: bytes) -> Envelope:
    try:
        msg = BytesParser(policy=email_policy.compat32).parsebytes(raw, headersonly=True)
        return envelope_of(msg)
    except Exception:  # hostile headers: answer nobody, refuse below
        return Envelope("", None, None, None, True)


def _parse(raw: bytes) -> tuple[Envelope, Payload]:
    """The request's envelope and OpenPGP payload."""
    request = _within_budget(lambda data: parse_request(data, MAX_REQUEST_BYTES), raw, "mail")
    return request.envelope, request.payload


class RequestHandler:
    def __init__(
        self,
        settings: ServerSettings,
        keyring: Keyring,
        journal: ReplayJournal,
        *,
        sender: Sender,
        runner: Runner = run_command,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.keyring = keyring
        self.journal = journal
        self.runner = runner
        self.sender = sender
        self.clock = clock

    def _answer(self, msg: EmailMessage, to: str) -> None:
        self.sender(self._sign(msg), to)

    def _sign(self, msg: EmailMessage) -> bytes:
        """PGP/MIME signed by the server's own key when it has one (`invoke server-key`)."""
        if not self.keyring.has_secret_key():
            return serialized(msg, EmailMessage.as_bytes)
        try:
            return serialized(msg, lambda m: signed_reply(m, self.keyring.sign_detached))
        except RuntimeError as e:  # the server's trouble: the reply still goes, unsigned
            syslog.syslog(syslog.LOG_ERR, f"cannot sign the reply, sent unsigned: {e}")
            return serialized(msg, EmailMessage.as_bytes)

    def _refuse(
        self, envelope: Envelope, reason: str, signer: str | None, answer: bool = True
    ) -> RequestOutcome:
        to = self._refusal_address(envelope, signer) if answer else None
        if to is not None:
            text = refusal_text(reason)
            self._answer(notice_reply(envelope, self.settings.recipient, to, "refused", text), to)
        return RequestOutcome("refused", reason, signer=signer, reply_to=to)

    def _refusal_address(self, envelope: Envelope, signer: str | None) -> str | None:
        """A known signer's address; anyone's only with reply_on_reject."""
        if signer is not None:
            key = self.settings.policy.keys[signer]
            return key.reply_to or next(iter(self.keyring.addresses(signer)), None)
        if self.settings.reply_on_reject and not envelope.auto_submitted:
            return envelope.reply_address
        return None

    def handle(self, raw: bytes) -> RequestOutcome:
        envelope: Envelope | None = None  # read from the headers alone if parsing fails
        signer: str | None = None
        try:
            envelope, payload = _parse(raw)
            verification, body, kind, encrypted, subject = self._verify(payload)
            if subject is not None:
                envelope = replace(envelope, subject=subject)
            status = verification.status
            keys = self.keyring.keys()
            if status.valid and status.primary_fingerprint in self.settings.policy.keys:
                signer = status.primary_fingerprint if status.primary_fingerprint in keys else None
            accepted = accept(
                status,
                body,
                kind,
                envelope,
                keys,
                self.journal.answered,
                self.settings.policy,
                self.clock(),
            )
        except RequestRefused as e:
            answer = not isinstance(e, Replay)
            return self._refuse(envelope or _headers_only(raw), e.reason, signer, answer)
        return self._execute(envelope, accepted, encrypted)

    def _verify(
        self, payload: Payload
    ) -> tuple[Verification, SignedBody, PayloadKind, bool, str | None]:
        """gpg's verdict, the signed text to take the command from, its kind, whether it
        came encrypted, and the subject protected inside the encryption (if any)."""
        subject = None
        encrypted = payload.kind == "encrypted"
        if encrypted:
            payload, opened, subject = self._decrypt(payload)
            if opened is not None:  # signed and encrypted in one OpenPGP message
                return opened, SignedBody(opened.signed), "opaque", True, None
        verification = self.keyring.verify(payload)
        # Inline PGP (webmail) may sign and encrypt to the server's key in one armored
        # block: the reply is then encrypted too.
        encrypted = encrypted or verification.status.decrypted
        body = SignedBody(verification.signed)
        if verification.status.valid and payload.kind == "detached":
            body = _within_budget(signed_entity_body, verification.signed)
        return verification, body, payload.kind, encrypted, subject

    def _decrypt(self, payload: Payload) -> tuple[Payload, Verification | None, str | None]:
        """Open a multipart/encrypted request: the signed payload inside and its protected
        subject, or the verdict on a signature that came with the decryption."""
        if not self.keyring.has_secret_key():
            raise RequestRefused("encrypted request but this server has no key of its own")
        opened = self.keyring.decrypt(payload)
        if opened.status.signatures:
            if not opened.status.decrypted:
                raise RequestRefused(opened.status.problem or "cannot decrypt the request")
            return payload, opened, None
        if not opened.status.decrypted:
            raise RequestRefused("cannot decrypt the request (not for this server's key)")
        inner = _within_budget(find_payload, opened.signed)
        if inner is None:
            raise RequestRefused("no signed command inside the encrypted request")
        if inner.kind == "encrypted":
            raise RequestRefused("encrypted request nested in another")
        return inner, None, _within_budget(protected_subject, opened.signed)

    def _seal(self, reply: EmailMessage, signer: str) -> bytes:
        """The result reply signed and encrypted to the signer (RFC 3156 §6.2), or a
        notice when the key cannot receive."""

        def seal(m: EmailMessage) -> bytes:
            return encrypted_reply(m, lambda b: self.keyring.encrypt_to(b, signer)).as_bytes()

        try:
            return serialized(reply, seal)
        except RuntimeError as e:
            text = f"mailsh ran the request, but cannot encrypt the output to your key: {e}"
            return self._sign(notice_reply_like(reply, text))

    def _interrupted(
        self, envelope: Envelope, accepted: Accepted, who: str
    ) -> tuple[bytes, RequestOutcome]:
        """Journal a request whose run was cut off (`who` stopped while it ran) as finished:
        its reply says so, and it is never run again."""
        text = (
            f"mailsh: this request was interrupted ({who} stopped while it ran) "
            "and is not re-run.\nCheck its effects and send a new request if needed."
        )
        to, digest = accepted.reply_address, accepted.digest
        reply = self._sign(notice_reply(envelope, self.settings.recipient, to, "interrupted", text))
        self.journal.finish(digest, "interrupted", reply, self.clock())
        reason = "interrupted, not re-run"
        return reply, RequestOutcome("interrupted", reason, accepted.signer, digest, to)

    def _execute(self, envelope: Envelope, accepted: Accepted, encrypted: bool) -> RequestOutcome:
        sender = self.settings.recipient
        digest, signer, to = accepted.digest, accepted.signer, accepted.reply_address
        claim = self.journal.claim(
            digest, signer, accepted.signed_at, envelope.message_id, self.clock()
        )
        if claim == Claim.RUNNING:
            return self._refuse(
                envelope, "replay of a request that is still running", signer, answer=False
            )
        if claim == Claim.FINISHED:
            entry = self.journal.entry(digest)
            assert entry is not None and entry.reply is not None
            self.sender(entry.reply, to)
            self.journal.reply_sent(digest)
            return RequestOutcome(
                "answered", "reply sent again after a failed send", signer, digest, to
            )
        if claim == Claim.INTERRUPTED:
            reply, outcome = self._interrupted(envelope, accepted, "the handler")
        else:
            s = self.settings
            try:
                run = self.runner(
                    accepted.command, accepted.run_as, s.timeout_s, s.max_output_bytes, s.limits
                )
            except (RunnerUnavailable, RunnerError, NotStarted):
                # Nothing started: forget the claim, so that postfix's retry runs it.
                self.journal.release(digest)
                raise
            except RunnerLost as e:  # it may have run: answered, never run again
                syslog.syslog(syslog.LOG_ERR, f"request {digest[:16]}: {e}")
                reply, outcome = self._interrupted(envelope, accepted, "the command runner")
            else:
                result = result_reply(
                    envelope, sender, to, run, accepted.cuts, s.inline_output_bytes
                )
                reply = self._seal(result, signer) if encrypted else self._sign(result)
                self.journal.finish(digest, f"exit {run.exit_status}", reply, self.clock())
                reason = "timed out" if run.timed_out else "ran"
                outcome = RequestOutcome(
                    "accepted",
                    reason,
                    signer,
                    digest,
                    to,
                    run.exit_status,
                    accepted.cuts,
                    accepted.request_id,
                )
        self.sender(reply, to)
        self.journal.reply_sent(digest)
        return outcome


def _within_budget(parse: Callable[[bytes], _T], data: bytes, what: str = "signed data") -> _T:
    """`parse(data)` within the parse budget. Whatever makes the stdlib parser fail on
    hostile data (any exception, a time-out, recursion, memory) is a refusal."""
    try:
        with time_budget():
            return parse(data)
    except RequestRefused:
        raise
    except (BudgetExceeded, RecursionError, MemoryError) as e:
        raise RequestRefused(f"unreadable {what} ({type(e).__name__}: {e})") from None
    except Exception as e:  # see the docstring
        raise RequestRefused(f"unreadable {what} ({type(e).__name__})") from None


def log(outcome: RequestOutcome, started: float) -> None:
    """The decision, with what it cost: wall time and the handler child's peak memory."""
    syslog.openlog("mailsh-request", syslog.LOG_PID, syslog.LOG_MAIL)
    level = syslog.LOG_INFO if outcome.result in ("accepted", "answered") else syslog.LOG_WARNING
    ms = (time.monotonic() - started) * 1000
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    syslog.syslog(level, outcome.format(ms=f"{ms:.0f}", maxrss_mb=maxrss_mb))
    for line in outcome.cut_lines():
        syslog.syslog(syslog.LOG_INFO, line)


def server_keyring() -> Keyring:
    """The handler's keyring (a symlink that `install_config` swaps on reload)."""
    return Keyring(SERVER_DIR / "gnupg")


class Session:
    """What a handler child keeps across the requests of its LMTP connection: the
    keyring, the journal (opened and pruned on first use) and the SMTP connection
    replies go out on. Closed when the connection ends."""

    def __init__(self, keyring: Keyring | None = None) -> None:
        self.keyring = keyring or server_keyring()
        self.outbox = Outbox()
        self._journal: ReplayJournal | None = None

    def journal(self, settings: ServerSettings) -> ReplayJournal:
        if self._journal is None:
            journal = ReplayJournal(JOURNAL)
            try:
                journal.prune(time.time(), settings.policy.max_age_s)
            except BaseException:
                journal.close()
                raise
            self._journal = journal
        return self._journal

    def close(self) -> None:
        """Let go of the journal and the SMTP connection (reopened when used again)."""
        journal, self._journal = self._journal, None
        try:
            if journal is not None:
                journal.close()
        finally:
            self.outbox.close()


def handle_message(raw: bytes, session: Session) -> tuple[int, str]:
    """One request, start to finish; an exit status (0 or 75) and a reason for postfix.

    `handle` turns everything wrong with the mail into a refusal; what escapes it is
    the server's own trouble (settings, journal, gpg, the reply's SMTP hand-off)."""
    started = time.monotonic()
    try:
        try:
            settings = load_settings(SERVER_SETTINGS)
            journal = session.journal(settings)
            handler = RequestHandler(settings, session.keyring, journal, sender=session.outbox.send)
            outcome = handler.handle(raw)
        except BaseException:
            session.close()  # start afresh: the journal or the connection may be broken
            raise
    except Exception as e:  # keep the message queued, retry later
        syslog.syslog(syslog.LOG_ERR, f"temporary failure, postfix will retry: {e!r}")
        return EX_TEMPFAIL, f"temporary failure: {type(e).__name__}"
    log(outcome, started)
    return 0, outcome.result
