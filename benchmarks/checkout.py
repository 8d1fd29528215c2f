"""A temporary checkout of another commit, for the benchmarks' `--baseline REF`."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


@contextmanager
def baseline_checkout(ref: str) -> Iterator[Path]:
    """A git worktree of `ref` of this repository, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="mailsh-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        git = ["git", "-C", str(REPOSITORY), "worktree"]
        subprocess.run([*git, "add", "--detach", str(tree), ref], check=True, capture_output=True)
        try:
            yield tree
        finally:
            subprocess.run([*git, "remove", "--force", str(tree)], check=False)
