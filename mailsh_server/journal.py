"""The replay journal: every accepted signature, its start and its finish (sqlite3).

It makes each request run at most once: a signature seen before is refused,
and a request whose handler died mid-run is answered "interrupted", never
re-run. Kept in the state volume, owned by the handler's user.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from mailsh_server.verify import CLOCK_SKEW_S

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    digest TEXT PRIMARY KEY,
    signer TEXT NOT NULL,
    signed_at INTEGER NOT NULL,
    message_id TEXT,
    owner_pid INTEGER NOT NULL,
    owner_started TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT,
    reply BLOB,
    reply_sent INTEGER NOT NULL DEFAULT 0
)
"""


class Claim(StrEnum):
    NEW = "new"
    FINISHED = "finished"
    RUNNING = "running"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Entry:
    digest: str
    finished: bool
    owner_pid: int
    owner_started: str
    reply: bytes | None
    reply_sent: bool


def process_start(pid: int) -> str:
    """A process's start time (clock ticks since boot): with the pid, a unique identity."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def owner_alive(entry: Entry) -> bool:
    return bool(entry.owner_started) and process_start(entry.owner_pid) == entry.owner_started


class ReplayJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def entry(self, digest: str) -> Entry | None:
        row = self._db.execute(
            "SELECT digest, finished_at IS NOT NULL, owner_pid, owner_started, reply, reply_sent"
            " FROM requests WHERE digest = ?",
            (digest,),
        ).fetchone()
        if row is None:
            return None
        return Entry(row[0], bool(row[1]), row[2], row[3], row[4], bool(row[5]))

    def answered(self, digest: str) -> bool:
        """Run (or found interrupted) and replied to: any later copy is a replay."""
        entry = self.entry(digest)
        return entry is not None and entry.finished and entry.reply_sent

    def claim(
        self, digest: str, signer: str, signed_at: int, message_id: str | None, now: float
    ) -> Claim:
        """Record the start of a request; say what to do if it was seen before."""
        pid = os.getpid()
        cur = self._db.execute(
            "INSERT OR IGNORE INTO requests"
            " (digest, signer, signed_at, message_id, owner_pid, owner_started, started_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (digest, signer, signed_at, message_id, pid, process_start(pid), now),
        )
        if cur.rowcount == 1:
            return Claim.NEW
        entry = self.entry(digest)
        assert entry is not None
        if entry.finished:
            if not entry.reply_sent and entry.owner_pid != os.getpid() and owner_alive(entry):
                # Another handler is handing its reply over right now: a copy arriving
                # meanwhile is a replay, not a failed send to repeat (no second reply).
                return Claim.RUNNING
            return Claim.FINISHED
        if owner_alive(entry):
            return Claim.RUNNING
        # Take over the dead handler's entry so only one redelivery answers it.
        cur = self._db.execute(
            "UPDATE requests SET owner_pid = ?, owner_started = ?"
            " WHERE digest = ? AND owner_pid = ? AND owner_started = ? AND finished_at IS NULL",
            (pid, process_start(pid), digest, entry.owner_pid, entry.owner_started),
        )
        return Claim.INTERRUPTED if cur.rowcount == 1 else Claim.RUNNING

    def release(self, digest: str) -> None:
        """Forget a claim whose command never started (this process's own, unfinished)."""
        self._db.execute(
            "DELETE FROM requests WHERE digest = ? AND owner_pid = ? AND finished_at IS NULL",
            (digest, os.getpid()),
        )

    def finish(self, digest: str, outcome: str, reply: bytes, now: float) -> None:
        self._db.execute(
            "UPDATE requests SET finished_at = ?, outcome = ?, reply = ? WHERE digest = ?",
            (now, outcome, reply, digest),
        )

    def reply_sent(self, digest: str) -> None:
        self._db.execute(
            "UPDATE requests SET reply_sent = 1, reply = NULL WHERE digest = ?", (digest,)
        )

    def prune(self, now: float, max_age_s: int) -> int:
        """Forget finished entries whose signatures are too old to pass the age rule anyway."""
        cur = self._db.execute(
            "DELETE FROM requests WHERE finished_at IS NOT NULL AND reply_sent = 1"
            " AND signed_at < ?",
            (now - max_age_s - 2 * CLOCK_SKEW_S,),
        )
        return cur.rowcount
