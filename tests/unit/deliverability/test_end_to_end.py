from __future__ import annotations

from email.message import EmailMessage

from provision.deliverability.end_to_end import judge_reply, receiver_verdicts
from provision.deliverability.result import Status

TOKEN = "mailsh-check-0a1b2c"
AR = [
    "mx.example.net; dmarc=pass (p=quarantine dis=none) header.from=example.org",
    "mx.example.net; dkim=pass header.d=example.org header.s=mail header.b=abc",
    "mx.example.net; spf=pass smtp.mailfrom=example.org",
]


def _reply(ar: list[str], stdout: str = f"{TOKEN}\n", result: str = "done") -> bytes:
    msg = EmailMessage()
    for header in ar:
        msg["Authentication-Results"] = header
    msg["From"] = "root@example.org"
    msg["Subject"] = "Re: mailsh: deliverability"
    msg["X-Mailsh-Result"] = result
    msg["X-Mailsh-Exit-Status"] = "0"
    msg.set_content("exit status: 0\n")
    msg.add_attachment(stdout, subtype="plain", disposition="inline", filename="stdout.txt")
    msg.add_attachment("", subtype="plain", disposition="inline", filename="stderr.txt")
    return msg.as_bytes()


def test_verdicts_are_read_from_every_authentication_results_header() -> None:
    msg = EmailMessage()
    for header in AR:
        msg["Authentication-Results"] = header
    assert receiver_verdicts(msg) == {"dmarc": "pass", "dkim": "pass", "spf": "pass"}


def test_echo_reply_with_three_passes_passes() -> None:
    outcome = judge_reply(_reply(AR), TOKEN)
    assert outcome.status == Status.PASS
    assert outcome.observed == "spf=pass, dkim=pass, dmarc=pass"


def test_dkim_failure_at_the_receiver_fails_and_points_to_the_dkim_check() -> None:
    ar = [
        AR[0],
        'mx.example.net; dkim=fail reason="key not found in DNS" header.d=example.org',
        AR[2],
    ]
    outcome = judge_reply(_reply(ar), TOKEN)
    assert outcome.status == Status.FAIL
    assert "dkim=fail" in outcome.observed
    assert "dkim check" in outcome.fix


def test_reply_without_authentication_results_warns() -> None:
    assert judge_reply(_reply([]), TOKEN).status == Status.WARN


def test_refused_request_fails() -> None:
    outcome = judge_reply(_reply(AR, stdout="", result="refused"), TOKEN)
    assert outcome.status == Status.FAIL
    assert "invoke logs" in outcome.fix
