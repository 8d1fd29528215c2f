"""Run one verified command: bash as its user, fresh directory, bounded, output capped.

The command runs in one `bash --noprofile --norc` (nothing else started), in a new
session, in a fresh temporary directory it owns, with a minimal environment, no
stdin, and ulimits (soft = hard, so it cannot raise them) on the processes of its
user, its address space, the size of any file it writes and its CPU time. bash sets
the ulimits itself (`PRELUDE`) before it reads a byte of the command, which it then
sources from its file: the resident runner is threaded, and a preexec function is
neither safe in a threaded process nor cheap (it forces a full fork). After
`timeout_s`, or as soon as bash exits, the whole process group is killed (the runner
then kills what the user still runs once none of its commands does). The
resident runner (`mailsh_server.runner`, root) calls this for the handler; tests
call it directly.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BASH = "/bin/bash"
KILLED = 137  # 128 + SIGKILL: what a command killed at its timeout exits with
GRACE_S = 10.0
COMMAND_FILE = ".mailsh-command.sh"
# Fixed text: only whole numbers from CommandLimits go into it. -v and -f count KiB.
PRELUDE = (
    "ulimit -HS -u {processes} -v {memory_kb} -f {file_kb} -t {cpu_s} -c 0 || exit 126\n"
    f". ./{COMMAND_FILE}\n"
)


class NotStarted(Exception):
    """The command could not be started (its directory, file or process): nothing ran."""


@dataclass(frozen=True)
class CommandLimits:
    """ulimits of each command: processes of its user, address space, file size, CPU."""

    processes: int = 256
    memory_kb: int = 1024 * 1024
    file_kb: int = 1024 * 1024
    cpu_s: int = 60


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


def _drain(proc: subprocess.Popen[bytes], limit: int, deadline: float) -> tuple[Captured, ...]:
    """Read stdout and stderr, keeping at most `limit` bytes of each, until both are closed
    or the deadline. When bash exits, its process group is killed at once: a background
    child that kept the pipes open does not hold the reply back."""
    assert proc.stdout is not None and proc.stderr is not None
    fds = (proc.stdout.fileno(), proc.stderr.fileno())
    kept = {fd: bytearray() for fd in fds}
    total = dict.fromkeys(fds, 0)
    exited = os.pidfd_open(proc.pid)
    sel = selectors.DefaultSelector()
    for fd in (*fds, exited):
        sel.register(fd, selectors.EVENT_READ)
    try:
        while len(sel.get_map()) > (exited in sel.get_map()) and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
                if key.fd == exited:
                    sel.unregister(exited)
                    _kill_group(proc.pid)
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                room = limit - len(kept[key.fd])
                if room > 0:
                    kept[key.fd] += chunk[:room]
                total[key.fd] += len(chunk)
    finally:
        sel.close()
        os.close(exited)
    return tuple(Captured(bytes(kept[fd]), total[fd]) for fd in fds)


def bash_argv(limits: CommandLimits) -> list[str]:
    """bash: set the ulimits, then source the command file (as `$0`, like `bash FILE`)."""
    numbers = {name: int(getattr(limits, name)) for name in CommandLimits.__annotations__}
    return [BASH, "--noprofile", "--norc", "-c", PRELUDE.format(**numbers), COMMAND_FILE]


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _await_group(pgid: int, wait_s: float = 1.0) -> None:
    """Wait (briefly) until a killed process group is gone: SIGKILL is not instant."""
    deadline = time.monotonic() + wait_s
    with contextlib.suppress(ProcessLookupError, PermissionError):
        while time.monotonic() < deadline:
            os.killpg(pgid, 0)
            time.sleep(0.002)


def _start(command: str, user: str, limits: CommandLimits) -> tuple[Path, subprocess.Popen[bytes]]:
    """The command's fresh directory and its running bash; NotStarted when either fails."""
    try:
        account = pwd.getpwnam(user)
        switch = account.pw_uid != os.geteuid()
        workdir = Path(tempfile.mkdtemp(prefix="mailsh-", dir="/tmp"))
    except (KeyError, OSError) as e:
        raise NotStarted(f"cannot prepare the command: {e}") from e
    try:
        script = workdir / COMMAND_FILE
        script.write_text(command)
        if switch:
            for path in (workdir, script):
                os.chown(path, account.pw_uid, account.pw_gid)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": account.pw_dir,
            "USER": user,
            "LOGNAME": user,
            "SHELL": BASH,
            "LANG": "C.UTF-8",
            "TMPDIR": str(workdir),
            "PWD": str(workdir),
        }
        proc = subprocess.Popen(
            bash_argv(limits),
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            user=account.pw_uid if switch else None,
            group=account.pw_gid if switch else None,
            extra_groups=[] if switch else None,
        )
    except (OSError, subprocess.SubprocessError) as e:
        shutil.rmtree(workdir, ignore_errors=True)
        raise NotStarted(f"cannot start the command: {e}") from e
    return workdir, proc


def run_sandboxed(
    command: str, user: str, timeout_s: int, max_output_bytes: int, limits: CommandLimits
) -> RunResult:
    """Run `command` as `user` (which must be this process's user unless it is root).

    NotStarted when nothing ran; any other exception comes after bash started."""
    started = time.monotonic()
    workdir, proc = _start(command, user, limits)
    try:
        with proc:
            stdout, stderr = _drain(proc, max_output_bytes, started + timeout_s)
            timed_out = proc.poll() is None and time.monotonic() - started >= timeout_s
            _kill_group(proc.pid)  # the timeout, or whatever the command left running
            try:
                status = proc.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                status = proc.wait()
            _await_group(proc.pid)
        duration = time.monotonic() - started
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if timed_out:
        status = KILLED
    elif status < 0:
        status = 128 - status
    return RunResult(status, duration, stdout, stderr, timed_out)
