"""A tiny syslog sink: opendkim logs only to syslog; this prints /dev/log to stdout.

Only the services may write to it (group mailsh-log): a request's command
could otherwise print lines that pass for the handler's own decisions.
"""

from __future__ import annotations

import grp
import os
import re
import socket
import sys

_PRI = re.compile(rb"^<\d{1,3}>")


LOG_GROUP = "mailsh-log"


def main(path: str = "/dev/log") -> None:
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chown(path, 0, grp.getgrnam(LOG_GROUP).gr_gid)
    os.chmod(path, 0o660)
    out = sys.stdout.buffer
    while True:
        data = sock.recv(65536)
        out.write(_PRI.sub(b"", data).rstrip(b"\0\n") + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
