"""postfix's pipe command: hand one message to the resident handler (mailsh_server.daemon).

Run as `python3 -I -S deliver.py`: builtin modules only, as it starts once
per message. Exits with the handler's status; 75 (EX_TEMPFAIL, postfix
keeps the message) when the handler cannot be reached or dies mid-request.
"""

from __future__ import annotations

import socket
import sys
import time

SOCKET = "/run/mailsh/handler/socket"
EX_TEMPFAIL = 75
CONNECT_WAIT_S = 15.0  # supervisord restarts a dead handler within a second or two


def _connect() -> socket.socket:
    deadline = time.monotonic() + CONNECT_WAIT_S
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(SOCKET)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def main() -> int:
    raw = sys.stdin.buffer.read()
    try:
        with _connect() as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
    except OSError as e:
        print(f"mailsh handler unavailable: {e}", file=sys.stderr)
        return EX_TEMPFAIL
    code, _, reason = answer.decode(errors="replace").strip().partition(" ")
    if not code.isdigit():
        print("mailsh handler stopped before answering", file=sys.stderr)
        return EX_TEMPFAIL
    if code != "0":
        print(reason, file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
