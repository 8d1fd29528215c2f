"""The end-to-end check (`--send`): a signed `echo` request, its reply read from the user's
mailbox, and the verdicts the receiving provider wrote in Authentication-Results.

The reply travels as any reply does (server -> the user's provider), so the verdicts are
the provider's own view of SPF, DKIM and DMARC for this server.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from email import message_from_bytes, policy
from email.message import EmailMessage

import authres

from provision.client.keys import signing_key, user_gpg
from provision.client.replies import parse_reply
from provision.client.request_mail import address_message
from provision.client.send import signed_request
from provision.client.transport import submission, submit, wait_imap
from provision.config import Settings
from provision.deliverability.result import Outcome, Problem, Status, combine
from provision.deliverability.target import Target
from provision.errors import ClientError

# Send a signed command; return the raw reply as the user's mailbox holds it.
SendProbe = Callable[[str], bytes]
METHODS = ("spf", "dkim", "dmarc")
FIXES = {
    "spf": "see the spf check: the record must authorize the IP mail leaves from",
    "dkim": "see the dkim check: publish the record `invoke provision` prints",
    "dmarc": "DMARC needs SPF or DKIM aligned with the From domain: fix those first",
}


def receiver_verdicts(msg: EmailMessage) -> dict[str, str]:
    """spf/dkim/dmarc results of the topmost (latest) Authentication-Results naming each."""
    verdicts: dict[str, str] = {}
    for header in msg.get_all("Authentication-Results", []):
        try:
            parsed = authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {header}")
        except authres.core.SyntaxError:
            continue
        for result in parsed.results:
            verdicts.setdefault(str(result.method), str(result.result))
    return verdicts


def judge_reply(raw: bytes, token: str) -> Outcome:
    expected = "the echo reply, with spf=pass, dkim=pass, dmarc=pass at the receiver"
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    result, status, stdout, stderr = parse_reply(raw)
    if result != "done" or status != 0 or token not in stdout:
        return Outcome(
            Status.FAIL,
            f"reply {result}, exit {status}: {(stderr or stdout).strip()[:120]}",
            expected,
            "see `invoke logs` for why the request was not run",
        )
    verdicts = receiver_verdicts(msg)
    if not verdicts:
        return Outcome(
            Status.WARN,
            "the reply arrived without Authentication-Results",
            expected,
            "read replies at a provider that adds Authentication-Results ([client] imap)",
        )
    shown = ", ".join(f"{m}={verdicts.get(m, 'none')}" for m in METHODS)
    problems = [
        Problem(Status.FAIL, f"{m}={verdicts.get(m, 'none')}", FIXES[m])
        for m in METHODS
        if verdicts.get(m) != "pass"
    ]
    return combine(problems, shown, expected)


def probe_sender(settings: Settings, environ: Mapping[str, str], timeout: float) -> SendProbe:
    """Send as `invoke send --wait` does, but keep the whole reply for its headers."""

    def send(command: str) -> bytes:
        if settings.client.imap is None:
            raise ClientError(
                "--send reads the reply over IMAP",
                hint="set [client] imap, username and password_env to your mailbox",
            )
        gpg = user_gpg()
        fpr, address = signing_key(gpg, settings.client.key)
        sender = settings.client.address or address
        recipient = settings.request_recipient
        request = signed_request(
            gpg, "pgp-mime", command, fpr, recipient, environ.get("MAILSH_GPG_PASSPHRASE")
        )
        msg, msg_id = address_message(request, sender, recipient, "mailsh: deliverability")
        submit(submission(settings, environ), msg, sender, recipient)
        return wait_imap(settings, environ, msg_id, timeout)

    return send


def check_end_to_end(target: Target) -> Outcome:
    if target.send_probe is None:
        return Outcome(Status.SKIP, "not run (needs --send)", "")
    token = f"mailsh-check-{secrets.token_hex(6)}"
    return judge_reply(target.send_probe(f"echo {token}\n"), token)
