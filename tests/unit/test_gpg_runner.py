"""gpg runs bounded: memory and CPU limits before it reads any input."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from mailsh_server import keyring as keyring_module
from mailsh_server.gpg import CPU_LIMIT_S, MEMORY_LIMIT, GpgRun, _limit, run_gpg
from mailsh_server.keyring import Keyring
from mailsh_server.message import Payload
from tests.fixtures.gpg import GpgKeys


def test_the_limits_are_those_of_the_running_process() -> None:
    proc = subprocess.Popen(["sleep", "5"])
    try:
        _limit(proc.pid)
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
    finally:
        proc.kill()
        proc.wait()
    rows = {line[:26].strip(): line[26:].split()[:2] for line in limits.splitlines()[1:]}
    assert rows["Max address space"] == [str(MEMORY_LIMIT)] * 2
    assert rows["Max cpu time"] == [str(CPU_LIMIT_S)] * 2


def test_output_past_the_limit_stops_gpg_and_is_reported(gpg_keys: GpgKeys) -> None:
    signed = gpg_keys.signer.sign(b"x" * 300_000, gpg_keys.alice, "opaque")
    run = run_gpg(gpg_keys.server.home, ["--decrypt"], signed, max_output=100_000)
    assert run.output_exceeded
    assert len(run.output) == 100_000


def test_the_status_channel_carries_only_status_lines(gpg_keys: GpgKeys) -> None:
    signed = gpg_keys.signer.sign(b"echo hi\n", gpg_keys.alice, "clearsign")
    run = run_gpg(gpg_keys.server.home, ["--decrypt"], signed, max_output=4096)
    assert run.returncode == 0
    assert all(line.startswith(b"[GNUPG:] ") for line in run.status.splitlines())
    assert b"Good signature" in run.stderr


def test_a_gpg_that_dies_before_saying_anything_is_run_once_more(
    gpg_keys: GpgKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen under load: gpg killed by a race at start-up must not refuse a good request."""
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> GpgRun:
        calls.append(1)
        if len(calls) == 1:
            return GpgRun(b"", b"", 2, False, False, False, b"gpg: Fatal: ...\n")
        return run_gpg(*args, **kwargs)

    monkeypatch.setattr(keyring_module, "run_gpg", flaky)
    signed = gpg_keys.signer.sign(b"echo hi\n", gpg_keys.alice, "clearsign")
    verification = Keyring(gpg_keys.server.home).verify(Payload("clearsigned", signed))
    assert verification.status.valid
    assert len(calls) == 2
