"""A tiny syslog sink: opendkim logs only to syslog; this prints /dev/log to stdout."""

from __future__ import annotations

import os
import re
import socket
import sys

_PRI = re.compile(rb"^<\d{1,3}>")


def main(path: str = "/dev/log") -> None:
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o666)  # noqa: S103 - every daemon must be able to log
    out = sys.stdout.buffer
    while True:
        data = sock.recv(65536)
        out.write(_PRI.sub(b"", data).rstrip(b"\0\n") + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
