"""The replay journal: every accepted signature, its start and its finish (sqlite3).

It makes each request run at most once: a signature seen before is refused,
and a request whose handler died mid-run is answered "interrupted", never
re-run. Kept in the state volume, owned by the handler's user.

Handlers write side by side. Each write holds an flock on `<journal>-lock`, so
SQLite never finds its own lock taken: its busy handler would sleep 1, 2, 5,
10... ms between retries, which under a burst of 20 concurrent requests cost
more than the requests themselves (p90 17-26 ms per write). A waiter on the
flock is woken the moment the holder releases it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
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
);
CREATE INDEX IF NOT EXISTS requests_signed_at ON requests (signed_at);
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
        self._lock = os.open(f"{path}-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            with self._writing():
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
            self._db.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            os.close(self._lock)
            raise

    def close(self) -> None:
        self._db.close()
        os.close(self._lock)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One writer at a time, across processes (see the module's docstring)."""
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

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
        """Record the start of a request; say what to do if it was seen before.

        The claim is on disk before the command starts (synchronous=FULL: the WAL is
        synced at commit): a power cut after it cannot let postfix's redelivery run the
        command again. The other writes may be lost to one (NORMAL): a lost finish is
        answered "interrupted", a lost reply_sent sends the reply twice, nothing runs."""
        with self._writing():
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                return self._claim(digest, signer, signed_at, message_id, now)
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")

    def _claim(
        self, digest: str, signer: str, signed_at: int, message_id: str | None, now: float
    ) -> Claim:
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
        with self._writing():
            self._db.execute(
                "DELETE FROM requests WHERE digest = ? AND owner_pid = ? AND finished_at IS NULL",
                (digest, os.getpid()),
            )

    def finish(self, digest: str, outcome: str, reply: bytes, now: float) -> None:
        with self._writing():
            self._db.execute(
                "UPDATE requests SET finished_at = ?, outcome = ?, reply = ? WHERE digest = ?",
                (now, outcome, reply, digest),
            )

    def reply_sent(self, digest: str) -> None:
        with self._writing():
            self._db.execute(
                "UPDATE requests SET reply_sent = 1, reply = NULL WHERE digest = ?", (digest,)
            )

    def prune(self, now: float, max_age_s: int) -> int:
        """Forget finished entries whose signatures are too old to pass the age rule anyway."""
        with self._writing():
            cur = self._db.execute(
                "DELETE FROM requests WHERE signed_at < ? AND finished_at IS NOT NULL"
                " AND reply_sent = 1",
                (now - max_age_s - 2 * CLOCK_SKEW_S,),
            )
        return cur.rowcount
