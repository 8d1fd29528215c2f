"""Run gpg on hostile input, bounded, with its status lines on a channel of their own.

gpg writes human-readable messages to stderr, and those echo text from the
input (armor headers, file names, user IDs). Its machine-readable verdict
goes to `--status-fd`: here a pipe that carries nothing else, so nothing the
sender wrote can pass for a status line. The signed data gpg prints is
streamed before the signature is checked: it means nothing until the status
channel says so, and it is capped (`--max-output`) because a few KB of
compressed OpenPGP data can expand to gigabytes. gpg also runs under memory,
CPU and wall-clock limits.
"""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# The handler only reads this keyring: no lock files (concurrent requests would
# queue on them), no trust database, never a key fetched from the network.
OPTIONS = (
    "--batch",
    "--no-tty",
    "--no-options",
    "--no-auto-key-retrieve",
    "--no-auto-key-locate",
    "--trust-model",
    "always",
    "--lock-never",
    "--pinentry-mode",  # never ask anyone for a passphrase (symmetric "requests")
    "error",
    "--no-random-seed-file",
    "--no-greeting",
    "--exit-on-status-write-error",
)
MEMORY_LIMIT = 256 * 2**20
CPU_LIMIT_S = 10
TIMEOUT_S = 20.0
STDERR_KEEP = 4096
MAX_STATUS = 1 << 20
OVERFLOW_MARGIN = 1 << 20


class GpgUnavailable(Exception):
    """gpg cannot be run at all: the server's trouble, not the request's."""


@dataclass(frozen=True)
class GpgRun:
    """What one gpg run left: its status channel, its (capped) output, how it ended."""

    status: bytes
    output: bytes
    returncode: int
    output_exceeded: bool
    status_exceeded: bool
    timed_out: bool
    stderr: bytes = b""


# No RLIMIT_CORE here: gpg disables core dumps itself at start, and lowering the hard
# limit from outside at that moment makes its own setrlimit fail ("can't disable core
# dumps"), which kills it (seen once in 800 runs under load).
LIMITS = (
    (resource.RLIMIT_AS, MEMORY_LIMIT),
    (resource.RLIMIT_CPU, CPU_LIMIT_S),
)


def _limit(pid: int) -> None:
    """Bound gpg's memory and CPU time before it reads a byte of input.

    Set from outside with prlimit rather than in a preexec function: that would make
    every gpg start a full fork of the handler (~13 ms) instead of a vfork.
    """
    for limit, value in LIMITS:
        resource.prlimit(pid, limit, (value, value))


def _pump(
    inputs: dict[int, bytes], outputs: dict[int, int], deadline: float
) -> tuple[dict[int, bytes], dict[int, bool], bool]:
    """Feed `inputs` and drain `outputs` (fd -> bytes to keep) until EOF, the deadline,
    or an output past its limit (gpg goes on inflating after `--max-output`: stop it).

    Closes every fd it was given."""
    sel = selectors.DefaultSelector()
    pending = dict(inputs)
    for fd in pending:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_WRITE)
    kept = {fd: bytearray() for fd in outputs}
    over = dict.fromkeys(outputs, False)
    for fd in outputs:
        sel.register(fd, selectors.EVENT_READ)
    timed_out = False
    while sel.get_map() and not any(over.values()):
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for key, events in sel.select(timeout=left):
            fd = key.fd
            if events & selectors.EVENT_WRITE:
                try:
                    pending[fd] = pending[fd][os.write(fd, pending[fd][:65536]) :]
                except BlockingIOError:
                    continue
                except BrokenPipeError:  # gpg stopped reading: it has decided already
                    pending[fd] = b""
                if not pending[fd]:
                    sel.unregister(fd)
                    os.close(fd)
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                sel.unregister(fd)
                os.close(fd)
                continue
            room = outputs[fd] - len(kept[fd])
            kept[fd] += chunk[: max(room, 0)]
            over[fd] = over[fd] or len(chunk) > room
    for key in list(sel.get_map().values()):
        os.close(key.fd)
    sel.close()
    return {fd: bytes(data) for fd, data in kept.items()}, over, timed_out


def run_gpg(
    home: Path,
    args: list[str],
    data: bytes,
    max_output: int,
    signature: bytes | None = None,
    timeout_s: float = TIMEOUT_S,
) -> GpgRun:
    """gpg ARGS with `data` on stdin (and a detached `signature` on a pipe of its own).

    In `args`, `{sig}` stands for the signature's special file name (`-&N`).
    """
    pipes = {name: os.pipe() for name in ("stdin", "stdout", "stderr", "status", "sig")}
    child_ends = {
        "stdin": pipes["stdin"][0],
        "stdout": pipes["stdout"][1],
        "stderr": pipes["stderr"][1],
        "status": pipes["status"][1],
        "sig": pipes["sig"][0],
    }
    if signature is not None:
        args = [a.replace("{sig}", f"-&{child_ends['sig']}") for a in args]
    argv = [
        "gpg",
        "--homedir",
        str(home),
        *OPTIONS,
        "--status-fd",
        str(child_ends["status"]),
        "--max-output",
        # More than we keep, so that we see the overflow and stop gpg ourselves: it
        # refuses a write past the limit but then inflates the rest to hash it.
        str(max_output + OVERFLOW_MARGIN),
        *(["--enable-special-filenames"] if signature is not None else []),
        *args,
    ]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=child_ends["stdin"],
            stdout=child_ends["stdout"],
            stderr=child_ends["stderr"],
            pass_fds=(child_ends["status"], child_ends["sig"]),
            env={"PATH": "/usr/bin:/bin", "LANG": "C", "LC_ALL": "C"},
        )
    except OSError as e:
        for r, w in pipes.values():
            os.close(r)
            os.close(w)
        raise GpgUnavailable(f"cannot run gpg: {e}") from e
    for fd in child_ends.values():
        os.close(fd)
    try:
        _limit(proc.pid)
    except OSError as e:  # gpg died at once, or limits cannot be set: no input for it
        proc.kill()
        proc.wait()
        for r, w in pipes.values():
            for fd in (r, w):
                with contextlib.suppress(OSError):
                    os.close(fd)
        raise GpgUnavailable(f"cannot limit gpg's resources: {e}") from e
    stdout, stderr, status = (pipes[n][0] for n in ("stdout", "stderr", "status"))
    inputs = {pipes["stdin"][1]: data, pipes["sig"][1]: signature or b""}
    outputs = {stdout: max_output, status: MAX_STATUS, stderr: STDERR_KEEP}
    try:
        kept, over, timed_out = _pump(inputs, outputs, time.monotonic() + timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
        returncode = proc.wait()
    return GpgRun(
        status=kept[status],
        output=kept[stdout],
        returncode=returncode,
        output_exceeded=over[stdout],
        status_exceeded=over[status],
        timed_out=timed_out,
        stderr=kept[stderr],
    )
