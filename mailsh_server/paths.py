"""Where things live inside the container."""

from __future__ import annotations

from pathlib import Path

from mailsh_server.protocol import JOURNAL_FILE, JOURNAL_SNAPSHOT_FILE, STATE_MOUNT

STATE = Path(STATE_MOUNT)
JOURNAL = STATE / JOURNAL_FILE
JOURNAL_SNAPSHOT = STATE / JOURNAL_SNAPSHOT_FILE
RENDERED = STATE / "rendered"
SERVER_DIR = STATE / "server"
RUN_DIR = Path("/run/mailsh")
APPLIED_HASH = RUN_DIR / "config-hash"
TLS_DIR = Path("/etc/mailsh/tls")
DKIM_DIR = Path("/etc/opendkim/keys")
SERVER_SETTINGS = Path("/etc/mailsh/server.json")
RENEWAL_SETTINGS = Path("/etc/mailsh/renewal.json")
RENEWAL_STATUS = STATE / "renewal" / "status.json"
# The operator's part of the state volume (provision ships it with put_archive) and the
# manifest listing its files; anything else there is the server's own.
OPERATOR_DIRS = ("rendered", "tls", "dkim", "trusted", "server-key", "secrets", "acme")
OPERATOR_MANIFEST = STATE / ".operator-files"
