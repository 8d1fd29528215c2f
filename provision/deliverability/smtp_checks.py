"""SMTP checks over the network: the banner names the host, no open relay, port 25 out."""

from __future__ import annotations

import smtplib
import socket

from provision.deliverability.result import Outcome, Status, passed
from provision.deliverability.target import Endpoint, Target

PROBE_SENDER = "deliverability-probe@example.com"
PROBE_RECIPIENT = "relay-probe@example.net"  # a domain the server is never a destination for


def _connect(endpoint: Endpoint, timeout: float, helo: str) -> tuple[smtplib.SMTP, str]:
    smtp = smtplib.SMTP(timeout=timeout, local_hostname=helo)
    code, greeting = smtp.connect(endpoint.host, endpoint.port)
    if code != 220:
        smtp.close()
        raise smtplib.SMTPConnectError(code, greeting)
    return smtp, greeting.decode(errors="replace")


def banner_outcome(hostname: str, greeting: str) -> Outcome:
    """The 220 greeting must start with the hostname receivers see in DNS and PTR."""
    first = greeting.split()[0].lower() if greeting.split() else ""
    expected = f"220 {hostname} ..."
    if first == hostname:
        return passed(greeting, expected)
    return Outcome(
        Status.FAIL,
        greeting,
        expected,
        f"set hostname = {hostname!r} in mailsh.toml and re-provision "
        "(postfix's smtpd_banner must start with $myhostname)",
    )


def check_banner(target: Target) -> Outcome:
    smtp, greeting = _connect(target.smtp, target.timeout_s, "checker.invalid")
    smtp.close()
    return banner_outcome(target.hostname, greeting)


def relay_outcome(code: int, reply: str) -> Outcome:
    expected = "5xx to RCPT for an outside domain"
    observed = f"{code} {reply}"
    if 500 <= code < 600:
        return passed(observed, expected)
    if 400 <= code < 500:
        return Outcome(
            Status.WARN,
            observed,
            expected,
            "make postfix refuse relaying permanently (reject_unauth_destination)",
        )
    return Outcome(
        Status.FAIL,
        f"open relay: {observed}",
        expected,
        "limit mynetworks to 127.0.0.0/8 and keep reject_unauth_destination "
        "in smtpd_relay_restrictions",
    )


def check_open_relay(target: Target) -> Outcome:
    """An unauthenticated RCPT to an outside domain; the transaction is reset, nothing sent."""
    smtp, _ = _connect(target.smtp, target.timeout_s, "relay-probe.example.com")
    try:
        smtp.ehlo()
        smtp.mail(PROBE_SENDER)
        code, reply = smtp.rcpt(PROBE_RECIPIENT)
        smtp.rset()
        smtp.quit()
    finally:
        smtp.close()
    return relay_outcome(code, reply.decode(errors="replace"))


def _reach(endpoint: Endpoint, timeout: float) -> str | None:
    """None when the endpoint greets with 220, else why not."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            greeting = sock.recv(512).decode(errors="replace").strip()
    except OSError as e:
        return e.strerror or str(e) or type(e).__name__
    return None if greeting.startswith("220") else f"greeting {greeting[:60]!r}"


def check_outbound_25(target: Target) -> Outcome:
    expected = f"a 220 greeting from {target.outbound_probe}"
    problem = _reach(target.outbound_probe, target.timeout_s)
    if problem is None:
        return passed("reachable", expected)
    if target.relay is not None:
        return Outcome(
            Status.WARN,
            f"blocked ({problem}); mail leaves through the relay",
            expected,
            "nothing to do while [relay] is configured",
        )
    return Outcome(
        Status.FAIL,
        f"{target.outbound_probe}: {problem}",
        expected,
        "your network blocks outgoing port 25: configure a smarthost in [relay]",
    )


def check_relay_host(target: Target) -> Outcome:
    if target.relay is None:
        return Outcome(Status.SKIP, "no [relay] configured", "")
    relay = target.relay
    expected = f"{relay.endpoint} answers" + (" with STARTTLS" if relay.starttls else "")
    fix = "check [relay] host and port, and that your network allows the connection"
    try:
        smtp, _ = _connect(relay.endpoint, target.timeout_s, "relay-check.invalid")
    except (OSError, smtplib.SMTPException) as e:
        return Outcome(Status.FAIL, f"{relay.endpoint}: {e}", expected, fix)
    try:
        smtp.ehlo()
        has_tls = smtp.has_extn("starttls")
        smtp.quit()
    finally:
        smtp.close()
    if relay.starttls and not has_tls:
        return Outcome(
            Status.FAIL,
            "no STARTTLS offered",
            expected,
            "use the relay's submission port (587), or set [relay] starttls = false",
        )
    return passed("answers" + (", offers STARTTLS" if has_tls else ""), expected)
