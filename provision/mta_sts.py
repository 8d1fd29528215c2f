"""The MTA-STS policy (RFC 8461): its text, served by caddy, and the id DNS publishes.

The id is derived from the policy text, so `_mta-sts.<domain>` changes exactly
when the policy does and senders fetch the new one.
"""

from __future__ import annotations

import hashlib

from provision.config import Settings

POLICY_PATH = ".well-known/mta-sts.txt"


def policy_host(settings: Settings) -> str:
    return f"mta-sts.{settings.domain}"


def policy_mx(settings: Settings) -> list[str]:
    """MX patterns the policy allows: `[mta_sts] mx`, or the server's own name."""
    return list(settings.mta_sts.mx) or [settings.fqdn]


def policy_text(settings: Settings) -> str:
    """The policy file, CRLF-terminated lines as RFC 8461 §3.2 writes them."""
    sts = settings.mta_sts
    lines = ["version: STSv1", f"mode: {sts.mode}"]
    lines += [f"mx: {mx}" for mx in policy_mx(settings)]
    lines.append(f"max_age: {sts.max_age}")
    return "".join(f"{line}\r\n" for line in lines)


def policy_id(text: str) -> str:
    """The `id=` of the `_mta-sts` TXT record: 1-32 alphanumerics, here from the text's hash."""
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def sts_record_value(settings: Settings) -> str:
    """The TXT value of `_mta-sts.<domain>`."""
    return f"v=STSv1; id={policy_id(policy_text(settings))}"
