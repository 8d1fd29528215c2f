"""Execute an accepted command through the sandbox, with its output capped."""

from __future__ import annotations

import os
import pwd
import selectors
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SANDBOX = Path(__file__).resolve().parent / "sandbox.sh"
BASH = "/bin/bash"
KILLED = 137  # GNU timeout --signal=KILL takes itself down with the group
GRACE_S = 10.0


@dataclass(frozen=True)
class CommandLimits:
    """ulimits of each command: processes of its user, address space, file size, CPU."""

    processes: int = 256
    memory_kb: int = 1024 * 1024
    file_kb: int = 1024 * 1024
    cpu_s: int = 60

    def argv(self) -> list[str]:
        return [str(v) for v in (self.processes, self.memory_kb, self.file_kb, self.cpu_s)]


@dataclass(frozen=True)
class Captured:
    data: bytes
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.data)


@dataclass(frozen=True)
class RunResult:
    exit_status: int
    duration_s: float
    stdout: Captured
    stderr: Captured
    timed_out: bool


def sandbox_argv(run_as: str, timeout_s: int, limits: CommandLimits) -> list[str]:
    """Run directly when already `run_as` (tests), else through the sudoers rule."""
    sandbox = [BASH, str(SANDBOX), str(timeout_s), *limits.argv()]
    if pwd.getpwuid(os.getuid()).pw_name == run_as:
        return sandbox
    return ["sudo", "-n", "-u", run_as, "--", *sandbox]


def _drain(proc: subprocess.Popen[bytes], limit: int, deadline: float) -> tuple[Captured, ...]:
    """Read stdout and stderr to EOF, keeping at most `limit` bytes of each."""
    assert proc.stdout is not None and proc.stderr is not None
    fds = (proc.stdout.fileno(), proc.stderr.fileno())
    kept = {fd: bytearray() for fd in fds}
    total = dict.fromkeys(fds, 0)
    sel = selectors.DefaultSelector()
    for fd in fds:
        sel.register(fd, selectors.EVENT_READ)
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fd)
                continue
            room = limit - len(kept[key.fd])
            if room > 0:
                kept[key.fd] += chunk[:room]
            total[key.fd] += len(chunk)
    sel.close()
    return tuple(Captured(bytes(kept[fd]), total[fd]) for fd in fds)


def run_command(
    command: str,
    run_as: str,
    timeout_s: int,
    max_output_bytes: int,
    limits: CommandLimits | None = None,
) -> RunResult:
    started = time.monotonic()
    proc = subprocess.Popen(
        sandbox_argv(run_as, timeout_s, limits or CommandLimits(cpu_s=timeout_s)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdin is not None
    try:
        proc.stdin.write(command.encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    with proc:
        stdout, stderr = _drain(proc, max_output_bytes, started + timeout_s + GRACE_S)
        try:
            status = proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = proc.wait()
    duration = time.monotonic() - started
    timed_out = status == KILLED and duration >= timeout_s
    return RunResult(status, duration, stdout, stderr, timed_out)
