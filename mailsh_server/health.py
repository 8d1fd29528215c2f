"""Container health: every supervisord program RUNNING and postfix's master alive.

No SMTP session here: Docker runs this every 30 s and each session would put a
connect/disconnect pair in the mail log. The host-side wait of `invoke provision`
checks the greeting through the published port instead, or with `--greet` from
inside when the port is on the loopback of a remote engine's machine.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import subprocess
import sys
from pathlib import Path
from typing import Any

from mailsh_server.paths import RENEWAL_STATUS, STATE
from mailsh_server.supervisor_status import not_running, program_states, supervisorctl

VOLUMES = {"state": STATE, "spool": Path("/var/spool/postfix"), "mail": Path("/var/mail")}
QUEUES = ("incoming", "active", "deferred", "hold", "maildrop")


def check() -> str | None:
    """None when healthy, else the reason."""
    out = supervisorctl("status")
    states = program_states(out.stdout)
    if not states:
        return f"supervisord not answering: {out.stdout.strip() or out.stderr.strip()}"
    down = not_running(states)
    if down:
        return "not running: " + ", ".join(f"{n} ({states[n]})" for n in down)
    postfix = subprocess.run(
        ["postfix", "status"], capture_output=True, text=True, timeout=10, check=False
    )
    if postfix.returncode != 0:
        return f"postfix: {(postfix.stderr or postfix.stdout).strip()}"
    return None


def _bytes_under(root: Path) -> int:
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue  # gone while counting (a delivered message)
    return total


def report() -> dict[str, Any]:
    """What `invoke status` shows, in one exec: services, queue, volumes' disk use,
    the renewer's last attempt."""
    out = supervisorctl("status")
    spool = VOLUMES["spool"]
    queued = sum(len(files) for q in QUEUES for _, _, files in os.walk(spool / q))
    renewal = json.loads(RENEWAL_STATUS.read_text()) if RENEWAL_STATUS.exists() else None
    return {
        "services": program_states(out.stdout),
        "queue": queued,
        "disk": {role: _bytes_under(path) for role, path in VOLUMES.items()},
        "renewal": renewal,
    }


def greet() -> int:
    """Print postfix's SMTP greeting on port 25 of this container."""
    smtp = smtplib.SMTP(timeout=5)
    try:
        code, msg = smtp.connect("127.0.0.1", 25)
        smtp.quit()
    except (OSError, smtplib.SMTPException) as e:
        print(f"no SMTP greeting on port 25: {e}")
        return 1
    finally:
        smtp.close()
    print(msg.decode(errors="replace"))
    return 0 if code == 220 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--greet", action="store_true", help="print the SMTP greeting")
    parser.add_argument("--report", action="store_true", help="print the status report (JSON)")
    args = parser.parse_args(argv)
    if args.greet:
        return greet()
    if args.report:
        print(json.dumps(report()))
        return 0
    problem = check()
    if problem:
        print(problem)
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
