"""Container health: every supervisord program RUNNING and postfix's master alive.

No SMTP session here: Docker runs this every 30 s and each session would put a
connect/disconnect pair in the mail log. The host-side wait of `invoke provision`
checks the greeting through the published port instead, or with `--greet` from
inside when the port is on the loopback of a remote engine's machine.
"""

from __future__ import annotations

import argparse
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
    postfix = subprocess.run(
        ["postfix", "status"], capture_output=True, text=True, timeout=10, check=False
    )
    if postfix.returncode != 0:
        return f"postfix: {(postfix.stderr or postfix.stdout).strip()}"
    return None


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
    if parser.parse_args(argv).greet:
        return greet()
    problem = check()
    if problem:
        print(problem)
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
