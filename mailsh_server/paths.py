"""Where things live inside the container."""

from __future__ import annotations

from pathlib import Path

from mailsh_server.protocol import (
    JOURNAL_FILE,
    JOURNAL_SNAPSHOT_FILE,
    OPERATOR_MANIFEST_FILE,
    STATE_MOUNT,
)

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
OPERATOR_MANIFEST = STATE / OPERATOR_MANIFEST_FILE
