"""The resident command runner: the only root process that starts a request's command.

The handler (user mailsh-server) verifies a request and asks this daemon, over a
UNIX socket only its group can reach, to run the signed text as `run_as`. The
runner checks who asks (SO_PEERCRED: mailsh-server or root), that `run_as` is one
of the configured users and never root or a service account, and that every
number is in range; then a thread of its own runs the command
(`sandbox.run_sandboxed`) and sends back the result. It replaces sudo and a
shell script: one fork and one exec of bash per request instead of sudo, PAM,
two shells and coreutils. Threads rather than a forked child per request: the
fork of a Python process, its page copies and its exit cost about as much as
the command (runner round trip 6.7 -> 4 ms).

Wire format (both ways): a JSON line (at most 4 KiB), then the byte strings whose
lengths it names. Request: {"run_as", "timeout_s", "max_output_bytes", "limits",
"command": <length>}. Answer: {"exit_status", "duration_s", "timed_out",
"stdout_total", "stderr_total", "stdout": <length>, "stderr": <length>} or
{"error": <why>}.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import signal
import socket
import socketserver
import struct
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict
from io import BufferedIOBase
from pathlib import Path
from typing import Any

from mailsh_server.paths import SERVER_SETTINGS
from mailsh_server.protocol import HANDLER_USER, RUNNER_SOCKET, run_as_problem
from mailsh_server.sandbox import Captured, CommandLimits, NotStarted, RunResult, run_sandboxed

MAX_HEADER = 4096
MAX_COMMAND = 4 * 2**20
BOUNDS = {
    "timeout_s": (1, 86400),
    "max_output_bytes": (1024, 256 * 2**20),
    "processes": (8, 65536),
    "memory_kb": (65536, 2**40),
    "file_kb": (1, 2**40),
    "cpu_s": (1, 86400),
}


class RunnerError(Exception):
    """A request the runner will not carry out; the reason goes back to the handler."""


class RunnerUnavailable(OSError):
    """The runner cannot be reached: nothing was started (the server's own trouble)."""


class RunnerLost(Exception):
    """The runner took the request but gave no result (it stopped, or the connection
    broke): the command may have run, so it must not run again."""


def _read_header(rfile: BufferedIOBase) -> dict[str, Any]:
    line = rfile.readline(MAX_HEADER + 1)
    if not line.endswith(b"\n"):
        raise RunnerError("header missing or too long")
    try:
        header = json.loads(line)
    except ValueError:
        raise RunnerError("header is not JSON") from None
    if not isinstance(header, dict):
        raise RunnerError("header is not a JSON object")
    return header


def _number(values: dict[str, Any], name: str) -> int:
    value = values.get(name)
    low, high = BOUNDS[name]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RunnerError(f"{name} must be a whole number from {low} to {high}")
    return value


def allowed_users(settings_path: Path = SERVER_SETTINGS) -> set[str]:
    """The run_as users server.json (root's file, rendered from mailsh.toml) names."""
    data = json.loads(settings_path.read_text())
    return {str(u) for u in data.get("run_as_users", [])}


def check_request(header: dict[str, Any], allowed: set[str]) -> tuple[str, int, int, CommandLimits]:
    """The request's user, timeout, output cap and limits, each checked (pure)."""
    user = header.get("run_as")
    if not isinstance(user, str) or user not in allowed:
        raise RunnerError(f"run_as {user!r} is not a configured user")
    problem = run_as_problem(user)
    if problem:
        raise RunnerError(problem)
    limits = header.get("limits")
    if not isinstance(limits, dict):
        raise RunnerError("limits missing")
    return (
        user,
        _number(header, "timeout_s"),
        _number(header, "max_output_bytes"),
        CommandLimits(**{name: _number(limits, name) for name in CommandLimits.__annotations__}),
    )


def write_result(wfile: BufferedIOBase, result: RunResult) -> None:
    header = {
        "exit_status": result.exit_status,
        "duration_s": result.duration_s,
        "timed_out": result.timed_out,
        "stdout_total": result.stdout.total,
        "stderr_total": result.stderr.total,
        "stdout": len(result.stdout.data),
        "stderr": len(result.stderr.data),
    }
    wfile.write(json.dumps(header).encode() + b"\n" + result.stdout.data + result.stderr.data)
    wfile.flush()


def read_result(rfile: BufferedIOBase) -> RunResult:
    """The runner's answer, as the handler reads it.

    RunnerError: the runner refused, before starting anything. RunnerLost: no
    complete answer, so the command may have run."""
    try:
        header = _read_header(rfile)
    except (RunnerError, OSError) as e:
        raise RunnerLost(f"no answer from the command runner: {e}") from e
    if "error" in header:
        raise RunnerError(str(header["error"]))
    try:
        stdout = rfile.read(int(header["stdout"]))
        stderr = rfile.read(int(header["stderr"]))
        if len(stdout) != int(header["stdout"]) or len(stderr) != int(header["stderr"]):
            raise ValueError("answer cut short")
        return RunResult(
            int(header["exit_status"]),
            float(header["duration_s"]),
            Captured(stdout, int(header["stdout_total"])),
            Captured(stderr, int(header["stderr_total"])),
            bool(header["timed_out"]),
        )
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise RunnerLost(f"no answer from the command runner: {e!r}") from e


def ask_runner(
    command: str,
    run_as: str,
    timeout_s: int,
    max_output_bytes: int,
    limits: CommandLimits,
    path: str = RUNNER_SOCKET,
) -> RunResult:
    """Have the resident runner run `command` as `run_as` (the handler's side)."""
    data = command.encode()
    header = {
        "run_as": run_as,
        "timeout_s": timeout_s,
        "max_output_bytes": max_output_bytes,
        "limits": asdict(limits),
        "command": len(data),
    }
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(path)
        except OSError as e:
            raise RunnerUnavailable(f"cannot reach the command runner at {path}: {e}") from e
        with sock.makefile("rwb") as f:
            f.write(json.dumps(header).encode() + b"\n" + data)
            f.flush()
            return read_result(f)


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


class _Connection(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        try:
            if _peer_uid(self.request) not in server.askers:
                raise RunnerError("only the request handler may ask")
            header = _read_header(self.rfile)
            length = header.get("command")
            if not isinstance(length, int) or not 0 < length <= MAX_COMMAND:
                raise RunnerError("command length missing or out of range")
            command = self.rfile.read(length).decode("utf-8")
            user, timeout_s, cap, limits = check_request(header, allowed_users())
        except (RunnerError, UnicodeDecodeError, OSError, KeyError, ValueError) as e:
            self._refuse(str(e))
            return
        try:
            with server.occupancy.running(user):
                result = run_sandboxed(command, user, timeout_s, cap, limits)
        except NotStarted as e:
            self._refuse(str(e))
            return
        # Anything failing after bash started ends this connection without an answer:
        # the handler then knows the command may have run (RunnerLost), never re-runs it.
        write_result(self.wfile, result)

    def _refuse(self, why: str) -> None:
        """An answer that nothing was started (the handler may retry the request)."""
        self.wfile.write(json.dumps({"error": why[:300]}).encode() + b"\n")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A thread per request, at most `MAX_RUNNING` at once: requests run side by side."""

    request_queue_size = 128
    daemon_threads = True
    block_on_close = False
    MAX_RUNNING = 256

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(self.MAX_RUNNING)
        # Who may ask (SO_PEERCRED): root and the handler, looked up once.
        self.askers = (0, pwd.getpwnam(HANDLER_USER).pw_uid)
        self.occupancy = Occupancy()

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()  # beyond MAX_RUNNING, the next waits in the listen queue
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class Occupancy:
    """How many commands each run_as user has running. When a user's last one ends,
    whatever its commands left behind is killed: a process started in a new session
    (`setsid`, a daemon) is out of reach of the process-group kill, and would otherwise
    outlive its command, its timeout and its reply."""

    def __init__(self, kill: Callable[[set[int]], int] | None = None) -> None:
        self._kill = kill or kill_processes_of
        self._running: Counter[int] = Counter()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def running(self, user: str) -> Iterator[None]:
        try:
            uid = pwd.getpwnam(user).pw_uid
        except KeyError:
            raise NotStarted(f"no user {user!r}") from None
        if uid == 0:  # never: run_as_problem refuses root before this
            raise NotStarted("run_as root is not allowed")
        with self._lock:
            self._running[uid] += 1
        try:
            yield
        finally:
            # Under the lock: a command of this user starting now waits for the kill.
            with self._lock:
                self._running[uid] -= 1
                if not self._running[uid]:
                    del self._running[uid]
                    self._kill({uid})


def _live_uid(pid: str) -> int | None:
    """The real uid of a running process (None once it is gone or a zombie)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if fields.get("State", "").split()[:1] == ["Z"] or "Uid" not in fields:
        return None
    return int(fields["Uid"].split()[0])


def stop_leftovers(users: set[str]) -> int:
    """Kill whatever commands a previous runner left running; how many processes.

    A runner that stops (a crash, a restart) takes the timeouts of its running
    commands with it: their requests are answered "interrupted" (RunnerLost), and
    nothing would end them. Only processes of the run_as users are killed, never
    root's or a service account's."""
    uids = set()
    for user in users:
        if run_as_problem(user) is None:
            with contextlib.suppress(KeyError):
                uids.add(pwd.getpwnam(user).pw_uid)
    return kill_processes_of(uids - {0})


def kill_processes_of(uids: set[int], passes: int = 10) -> int:
    """SIGKILL every process whose real uid is in `uids`, again until none is left
    (a command may fork while it is being killed); how many signals were sent."""
    killed = 0
    for _ in range(passes):
        pids = filter(str.isdigit, os.listdir("/proc"))
        found = [int(pid) for pid in pids if _live_uid(pid) in uids]
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        if not found:
            break
    return killed


def main() -> int:
    path = Path(RUNNER_SOCKET)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    try:
        killed = stop_leftovers(allowed_users())
    except (OSError, ValueError) as e:  # no settings yet: no command has run
        print(f"mailsh runner: not looking for leftover commands: {e}", flush=True)
    else:
        if killed:
            print(f"mailsh runner: killed {killed} processes left by commands", flush=True)
    with _Server(str(path), _Connection) as server:
        os.chown(path, 0, grp.getgrnam(HANDLER_USER).gr_gid)
        os.chmod(path, 0o660)
        print(f"mailsh runner listening on {path}", flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
