"""A consistent copy of the request journal for `invoke backup` (sqlite's online backup).

Copying the journal's files while the handler writes could tear a transaction;
sqlite's backup API copies a consistent state, so a restored server refuses
every request the old one accepted.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

from mailsh_server import paths

JOURNAL = paths.JOURNAL
SNAPSHOT = paths.JOURNAL_SNAPSHOT


def snapshot(source: Path = JOURNAL, target: Path = SNAPSHOT) -> bool:
    """Copy the journal to `target`; False when there is no journal yet."""
    if not source.exists():
        return False
    target.parent.mkdir(mode=0o700, exist_ok=True)
    partial = target.with_name(f".{target.name}.new")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, target)
    return True


def main() -> int:
    print("snapshot" if snapshot() else "no journal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
