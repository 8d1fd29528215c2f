"""The server renews its own ACME certificate (`tls.mode = "acme"`), supervised like the
rest: it checks at start and then daily (or when sent SIGHUP), with the same rules and
DNS provider as `invoke certs` (mailsh_acme: renew when fewer than 30 days remain,
challenge records restored). A new certificate is installed and postfix and caddy
reloaded; on any failure the current one stays, the reason is logged, kept in
`renewal/status.json` for `invoke status`, and mailed to the admin address.

Settings come from /etc/mailsh/renewal.json (rendered by provision); the DNS
provider's secret from a 0600 file in the state volume, never the environment.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from josepy.jwk import JWKRSA

from mailsh_acme import order
from mailsh_acme.certificate import check_certificate, pem_not_after
from mailsh_acme.failures import AcmeProblem
from mailsh_server import install_config
from mailsh_server.challenge_dns import (
    ChallengeDnsError,
    DuckDnsZone,
    Rfc2136Zone,
    Server,
    address,
    find_nameservers,
    wait_for_txt,
)
from mailsh_server.paths import RENEWAL_SETTINGS, RENEWAL_STATUS, STATE

CERT = STATE / "tls" / "fullchain.pem"
KEY = STATE / "tls" / "privkey.pem"
ACCOUNT_KEY = STATE / "acme" / "account-key.pem"
DNS_SECRET = STATE / "secrets" / "dns"
DAY_S = 86400.0


@dataclass(frozen=True)
class Attempt:
    """One wake-up: what happened, when, and the certificate's expiry after it."""

    at: dt.datetime
    result: str  # "renewed", "not due", "failed"
    detail: str
    not_after: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "last_attempt": self.at.isoformat(timespec="seconds"),
            "result": self.result,
            "detail": self.detail,
            "not_after": self.not_after.isoformat(timespec="seconds") if self.not_after else None,
        }


def log(line: str) -> None:
    print(f"mailsh-renewal: {line}", flush=True)


def _servers(entries: list[list[Any]], name: str) -> list[Server]:
    """`[dns] nameservers` as provision rendered them ([host, port] pairs), else the NS."""
    if not entries:
        return find_nameservers(name)
    return [address(str(host), int(port)) for host, port in entries]


def challenge_zone(settings: dict[str, Any], secret: str) -> order.ChallengeZone:
    dns = settings["dns"]
    if dns["provider"] == "rfc2136":
        return Rfc2136Zone(
            dns["server"],
            int(dns["port"]),
            dns["zone"],
            dns["key_name"],
            secret,
            dns["key_algorithm"],
            float(dns["timeout_s"]),
        )
    servers = _servers(settings["nameservers"], settings["names"][0])
    return DuckDnsZone(dns["api"], dns["subname"], secret, servers, float(dns["timeout_s"]))


def _install(fullchain: bytes, key: bytes) -> None:
    """Key first, then chain (each through a rename), then reload postfix and caddy."""
    for path, data, mode in ((KEY, key, 0o600), (CERT, fullchain, 0o644)):
        tmp = path.with_name(f".{path.name}.renewed")
        tmp.write_bytes(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    install_config.reload_services(install_config.install_files())


def renew(settings: dict[str, Any], now: dt.datetime) -> Attempt:
    """Check, and renew when due; never raises for an ACME or DNS failure."""
    names = list(settings["names"])
    current = CERT.read_bytes() if CERT.exists() else None
    expiry = pem_not_after(current) if current else None
    check = check_certificate(current, names, now)
    if not check.due:
        return Attempt(now, "not due", check.reason, expiry)
    log(f"renewing: {check.reason}")
    try:
        key = serialization.load_pem_private_key(ACCOUNT_KEY.read_bytes(), password=None)
        account = JWKRSA(key=key)
        client = order.connect(
            settings["directory"],
            account,
            settings.get("email"),
            bool(settings["agree_tos"]),
            settings.get("ca_bundle"),
        )
        zone = challenge_zone(settings, DNS_SECRET.read_text().strip())
        timeout = float(settings["propagation_timeout_s"])

        def wait(name: str, value: str, progress: order.Progress) -> None:
            wait_for_txt(name, value, _servers(settings["nameservers"], name), timeout, progress)

        issued = order.issue_certificate(
            client, account, names, zone, wait, log, one_at_a_time=settings["one_at_a_time"]
        )
    except (AcmeProblem, ChallengeDnsError) as e:
        return Attempt(now, "failed", str(e), expiry)
    except (OSError, ValueError) as e:  # an unreadable key or secret, an unreachable host
        return Attempt(now, "failed", f"{type(e).__name__}: {e}", expiry)
    _install(issued.fullchain_pem, issued.key_pem)
    return Attempt(now, "renewed", f"valid until {issued.not_after:%Y-%m-%d}", issued.not_after)


def failure_mail(settings: dict[str, Any], attempt: Attempt) -> EmailMessage:
    host = settings["hostname"]
    msg = EmailMessage()
    msg["From"] = f"mailsh renewer <postmaster@{host}>"
    msg["To"] = settings["admin_email"]
    msg["Subject"] = f"mailsh: certificate renewal failed on {host}"
    left = ""
    if attempt.not_after is not None:
        days = (attempt.not_after - attempt.at).days
        until = f"{attempt.not_after:%Y-%m-%d}"
        left = f"The current certificate stays in use until {until} ({days} days).\n"
    msg.set_content(
        f"The renewal of the certificate for {', '.join(settings['names'])} failed:\n\n"
        f"  {attempt.detail}\n\n{left}"
        "The server tries again daily; `invoke certs` on the operator's machine renews it too.\n"
    )
    return msg


def record(settings: dict[str, Any], attempt: Attempt) -> None:
    RENEWAL_STATUS.parent.mkdir(mode=0o755, exist_ok=True)
    tmp = RENEWAL_STATUS.with_name(f".{RENEWAL_STATUS.name}.new")
    tmp.write_text(json.dumps(attempt.as_json(), indent=2) + "\n")
    os.replace(tmp, RENEWAL_STATUS)
    log(f"{attempt.result}: {attempt.detail}")
    if attempt.result == "failed":
        alert(failure_mail(settings, attempt))


def alert(mail: EmailMessage, sendmail: str = "/usr/sbin/sendmail") -> None:
    """Hand the failure alert to postfix; when it cannot, say so in the log (the status
    file keeps the failure for `invoke status` either way)."""
    try:
        done = subprocess.run(
            [sendmail, "-t", "-oi"], input=mail.as_bytes(), capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        log(f"the failure alert was not sent: {e}")
        return
    if done.returncode != 0:
        said = (done.stderr or done.stdout).decode(errors="replace").strip()
        log(f"the failure alert was not sent: sendmail exit {done.returncode}: {said[:300]}")


def main() -> int:
    wake = threading.Event()
    signal.signal(signal.SIGHUP, lambda _signum, _frame: wake.set())
    while True:
        settings = json.loads(Path(RENEWAL_SETTINGS).read_text())
        record(settings, renew(settings, dt.datetime.now(dt.UTC)))
        wake.wait(float(settings.get("interval_s", DAY_S)))
        wake.clear()


if __name__ == "__main__":
    sys.exit(main())
