"""The resident request handler: postfix's pipe transport hands each message to it.

Starting Python and importing the mail, gpg and sqlite modules cost more
than verifying and running a request, so one process (under supervisord,
as mailsh-server) keeps them loaded. `deliver.py` (the pipe command) sends
it one message over a UNIX socket and relays the exit status to postfix:
0 once the request is answered or refused and logged, 75 to keep it queued.
Settings are read per request, so a reload needs no restart.
"""

from __future__ import annotations

import os
import socketserver
import sys

from mailsh_server.handler import MAX_REQUEST_BYTES, handle_message
from mailsh_server.paths import RUN_DIR

SOCKET = RUN_DIR / "handler" / "socket"


class _Connection(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        raw = self.rfile.read(MAX_REQUEST_BYTES + 1)
        code, reason = handle_message(raw)
        self.wfile.write(f"{code} {reason}\n".encode())


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128


def main() -> int:
    SOCKET.parent.mkdir(parents=True, exist_ok=True)
    SOCKET.unlink(missing_ok=True)
    with _Server(str(SOCKET), _Connection) as server:
        os.chmod(SOCKET, 0o600)
        print(f"mailsh handler listening on {SOCKET}", flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
