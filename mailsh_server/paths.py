"""Where things live inside the container."""

from __future__ import annotations

from pathlib import Path

STATE = Path("/var/lib/mailsh")
RENDERED = STATE / "rendered"
SERVER_DIR = STATE / "server"
RUN_DIR = Path("/run/mailsh")
APPLIED_HASH = RUN_DIR / "config-hash"
TLS_DIR = Path("/etc/mailsh/tls")
DKIM_DIR = Path("/etc/opendkim/keys")
SERVER_SETTINGS = Path("/etc/mailsh/server.json")
