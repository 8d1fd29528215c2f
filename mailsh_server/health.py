"""Container health: every supervisord program RUNNING and postfix greeting on port 25."""

from __future__ import annotations

import smtplib
import subprocess
import sys

from mailsh_server.supervisor_status import not_running, parse_status


def check() -> str | None:
    """None when healthy, else the reason."""
    out = subprocess.run(
        ["supervisorctl", "status"], capture_output=True, text=True, timeout=10, check=False
    )
    states = parse_status(out.stdout)
    if not states:
        return f"supervisord not answering: {out.stdout.strip() or out.stderr.strip()}"
    down = not_running(states)
    if down:
        return "not running: " + ", ".join(f"{n} ({states[n]})" for n in down)
    try:
        with smtplib.SMTP("127.0.0.1", 25, timeout=5) as smtp:
            code, _ = smtp.noop()
    except (OSError, smtplib.SMTPException) as e:
        return f"no SMTP greeting on port 25: {e}"
    if code != 250:
        return f"SMTP NOOP answered {code}"
    return None


def main() -> int:
    problem = check()
    if problem:
        print(problem)
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
