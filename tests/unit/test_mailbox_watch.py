"""The benchmark's reply watcher: each reply once, the moment postfix has appended it."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "mailbox_watch", ROOT / "benchmarks/mailbox_watch.py"
)
assert _spec is not None and _spec.loader is not None
watch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(watch)

OLD = b"From MAILER-DAEMON Mon Nov 30 00:00:00 2026\nSubject: old\n\nbody\n\n"


def test_each_reply_appended_is_reported_once_with_its_in_reply_to(tmp_path: Path) -> None:
    mailbox = tmp_path / "mailsh-replies"
    mailbox.write_bytes(OLD)  # there before the watch: not reported
    seen: list[str] = []

    def reader() -> None:
        for _, message in watch.follow(mailbox, offset=len(OLD)):
            seen.append(watch.in_reply_to(message))
            if len(seen) == 2:
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    with mailbox.open("ab") as f:
        f.write(b"From MAILER-DAEMON Mon Nov 30 00:00:02 2026\nIn-Reply-To:\n <a@x>\n\nbo")
        f.flush()
        f.write(b"dy\n\nFrom MAILER-DAEMON Mon Nov 30 00:00:03 2026\nIn-Reply-To: <b@x>\n\nc\n\n")
    thread.join(timeout=10)
    assert seen == ["<a@x>", "<b@x>"]


def test_a_message_still_being_written_is_not_reported() -> None:
    partial = b"From MAILER-DAEMON Mon Nov 30 00:00:01 2026\nSubject: b\n\nbo"
    assert watch.complete_messages(OLD + partial) == [OLD]
