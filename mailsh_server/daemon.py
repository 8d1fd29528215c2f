"""The resident request handler: postfix's pipe transport hands each message to it.

Starting Python and importing the mail, gpg and sqlite modules cost more
than verifying and running a request, so one process (under supervisord,
as mailsh-server) keeps them loaded and forks a child per request.
`deliver.py` (the pipe command) sends it one message over a UNIX socket and
relays the exit status to postfix: 0 once the request is answered or
refused and logged, 75 to keep it queued.
Settings are read per request, so a reload needs no restart.
"""

from __future__ import annotations

import encodings.idna  # noqa: F401 - smtplib's, imported once here, not per child
import gc
import os
import socketserver
import sys
from typing import Any

from mailsh_server.handler import MAX_REQUEST_BYTES, handle_message, server_keyring
from mailsh_server.keyring import Keyring
from mailsh_server.paths import RUN_DIR

SOCKET = RUN_DIR / "handler" / "socket"


class _Connection(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        raw = self.rfile.read(MAX_REQUEST_BYTES + 1)
        server = self.server
        assert isinstance(server, _Server)
        code, reason = handle_message(raw, server.keyring)
        self.wfile.write(f"{code} {reason}\n".encode())


class _Server(socketserver.ForkingMixIn, socketserver.UnixStreamServer):
    """A child per request, forked from the loaded interpreter: no import cost, no GIL
    shared between requests, and a crash takes down one request only."""

    request_queue_size = 128
    max_children = 64
    keyring: Keyring

    def process_request(self, request: Any, client_address: Any) -> None:
        # List the keys' addresses here, once per keyring version, not in every child.
        try:
            self.keyring.address_map()
        except Exception as e:  # the child lists them again, or fails the request
            print(f"cannot list the trusted keys: {e!r}", file=sys.stderr, flush=True)
        # The loaded objects go to the collector's permanent generation: a child's
        # collections then never touch (and copy) the parent's pages.
        gc.freeze()
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # In the forked child, which exits after this one request: no collections at all.
        gc.disable()
        super().finish_request(request, client_address)


def main() -> int:
    SOCKET.parent.mkdir(parents=True, exist_ok=True)
    SOCKET.unlink(missing_ok=True)
    with _Server(str(SOCKET), _Connection) as server:
        os.chmod(SOCKET, 0o600)
        # python-gnupg runs `gpg --version` when constructed: once, not per request.
        server.keyring = server_keyring()
        print(f"mailsh handler listening on {SOCKET}", flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
