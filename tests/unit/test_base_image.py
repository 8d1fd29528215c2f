"""The offline base image: debootstrap says how far it is while it runs; the slimming."""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path

import pytest

from provision.base_image import _slim_rootfs, run_debootstrap
from provision.errors import MailshError

OUTPUT = [
    "I: Retrieving InRelease",
    "I: Retrieving libc6 2.36-9",
    "I: Validating libc6 2.36-9",
    "W: a warning is not progress",
    "I: Extracting libc6...",
    "I: Installing core packages...",
    "I: Configuring libc6...",
    "I: Base system installed successfully.",
]


@pytest.fixture
def fake_debootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `debootstrap` first on PATH that prints OUTPUT (and exits with $FAKE_EXIT)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "debootstrap"
    lines = "".join(f"echo '{line}'\n" for line in OUTPUT)
    script.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\n{lines}exit "${{FAKE_EXIT:-0}}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_debootstrap_progress_is_said_while_it_runs_at_most_every_five_seconds(
    fake_debootstrap: Path,
) -> None:
    said: list[str] = []
    seconds = itertools.count(0, 2)  # each line arrives 2 s after the one before
    run_debootstrap(
        "bookworm", fake_debootstrap / "root", "http://mirror", said.append, lambda: next(seconds)
    )
    assert said == [
        "debootstrap (2 s): Retrieving InRelease",
        "debootstrap (10 s): Extracting libc6...",  # the first I: line 5 s or more later
        "debootstrap (16 s): Base system installed successfully.",
    ]


def test_debootstrap_builds_a_minimal_root_filesystem(fake_debootstrap: Path) -> None:
    run_debootstrap("bookworm", fake_debootstrap / "root", "http://mirror", lambda _line: None)
    expected = f"--variant=minbase bookworm {fake_debootstrap / 'root'} http://mirror"
    assert (fake_debootstrap / "args").read_text().strip() == expected


def test_a_failed_debootstrap_says_its_last_lines(
    fake_debootstrap: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_EXIT", "1")
    with pytest.raises(MailshError) as e:
        run_debootstrap("bookworm", fake_debootstrap / "root", "http://mirror", lambda _: None)
    assert str(e.value) == "debootstrap failed: " + " / ".join(OUTPUT[-3:])


def test_the_root_filesystem_loses_documentation_and_translations_but_not_locale_alias(
    tmp_path: Path,
) -> None:
    for rel in ("usr/share/doc/bash/README", "usr/share/locale/de/LC_MESSAGES/x.mo"):
        (tmp_path / rel).parent.mkdir(parents=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "usr/share/locale/locale.alias").write_text("alias")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/resolv.conf").write_text("nameserver 192.0.2.1")
    _slim_rootfs(tmp_path)
    assert list((tmp_path / "usr/share/doc").iterdir()) == []
    assert [p.name for p in (tmp_path / "usr/share/locale").iterdir()] == ["locale.alias"]
    assert not (tmp_path / "etc/resolv.conf").exists()
    assert (tmp_path / "var/lib/apt/lists/partial").is_dir()
