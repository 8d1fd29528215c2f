"""The resident request handler: postfix's `lmtp` transport hands it each request.

Starting Python and importing the mail, gpg and sqlite modules cost more
than verifying and running a request, so one process (under supervisord,
as mailsh-server) keeps them loaded and forks a child per LMTP connection,
which handles the requests postfix sends over it one after the other
(`mailsh_server.lmtp`). postfix keeps each message queued until its reply:
250 once the request is answered or refused and logged, 451 (or a dropped
connection) to retry it later. The socket is for postfix only (group
mailsh-server, which postfix joins in the image).
Settings are read per request, so a reload needs no restart.
"""

from __future__ import annotations

import encodings.idna  # noqa: F401 - smtplib's, imported once here, not per child
import gc
import os
import socket
import socketserver
import sys
from typing import Any

from mailsh_server import lmtp
from mailsh_server.handler import MAX_REQUEST_BYTES, Session, handle_message, server_keyring
from mailsh_server.keyring import Keyring
from mailsh_server.limits import limit_child_memory, may_serve_more
from mailsh_server.paths import RUN_DIR

SOCKET = RUN_DIR / "handler" / "lmtp"


class _Connection(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        session = Session(server.keyring)
        try:
            lmtp.serve(
                self.rfile,
                self.wfile,
                lambda raw: handle_message(raw, session),
                MAX_REQUEST_BYTES + 1,
                socket.gethostname(),
                answered=_between_requests,
            )
        finally:
            session.close()


def _between_requests() -> bool:
    """After an answer, before the next request: free what the last one left in cycles,
    and serve on only while the child is small (`limits.may_serve_more`)."""
    gc.collect()
    return may_serve_more()


class _Server(socketserver.ForkingMixIn, socketserver.UnixStreamServer):
    """A child per connection, forked from the loaded interpreter: no import cost, no GIL
    shared between requests, and a crash takes down that connection's request only."""

    request_queue_size = 128
    max_children = 64
    keyring: Keyring

    def process_request(self, request: Any, client_address: Any) -> None:
        # List the keys here, once per keyring version, not in every child.
        try:
            self.keyring.keys()
        except Exception as e:  # the child lists them again, or fails the request
            print(f"cannot list the trusted keys: {e!r}", file=sys.stderr, flush=True)
        # The loaded objects go to the collector's permanent generation: a child's
        # collections then never touch (and copy) the parent's pages.
        gc.freeze()
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # In the forked child, which exits after its connection (postfix reuses one
        # for at most lmtp_connection_reuse_count_limit requests): no collections
        # while a request is handled (one runs after each answer), and a bounded
        # address space (a mail built to explode is a MemoryError).
        gc.disable()
        limit_child_memory()
        super().finish_request(request, client_address)


def main() -> int:
    SOCKET.parent.mkdir(parents=True, exist_ok=True)
    SOCKET.unlink(missing_ok=True)
    with _Server(str(SOCKET), _Connection) as server:
        os.chmod(SOCKET, 0o660)
        # One keyring object: its key listing is read before each fork (process_request).
        server.keyring = server_keyring()
        print(f"mailsh handler listening on {SOCKET}", flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
