"""What the handler concludes from the runner's answer: refused (nothing started, retry
later) or lost (the command may have run: never run it again)."""

from __future__ import annotations

import getpass
import io
import json
import os
import pwd
import subprocess

import pytest

from mailsh_server.runner import (
    Occupancy,
    RunnerError,
    RunnerLost,
    _live_uid,
    kill_processes_of,
    read_result,
    stop_leftovers,
)
from mailsh_server.sandbox import CommandLimits, NotStarted, run_sandboxed
from tests.waiting import wait_until


def answer(data: bytes) -> io.BufferedReader:
    """What the handler reads when the runner wrote `data`, then closed the connection."""
    return io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]


def test_a_refusal_means_nothing_started() -> None:
    with pytest.raises(RunnerError, match="run_as 'root'"):
        read_result(answer(json.dumps({"error": "run_as 'root' is not allowed"}).encode() + b"\n"))


@pytest.mark.parametrize(
    "data",
    [
        b"",  # the runner stopped before answering
        b'{"exit_status": 0, "duration_s"',  # cut inside the header
        b'{"exit_status": 0, "duration_s": 0.1, "timed_out": false, "stdout_total": 9,'
        b' "stderr_total": 0, "stdout": 9, "stderr": 0}\nonly',  # cut inside the output
        b'{"exit_status": "x"}\n',  # not an answer at all
    ],
    ids=["nothing", "half a header", "half the output", "garbled"],
)
def test_no_complete_answer_means_the_command_may_have_run(data: bytes) -> None:
    with pytest.raises(RunnerLost):
        read_result(answer(data))


def test_a_complete_answer_is_the_result() -> None:
    header = {
        "exit_status": 3,
        "duration_s": 0.25,
        "timed_out": False,
        "stdout_total": 5,
        "stderr_total": 4,
        "stdout": 5,
        "stderr": 4,
    }
    result = read_result(answer(json.dumps(header).encode() + b"\nhello" + b"oops"))
    assert (result.exit_status, result.stdout.data, result.stderr.data) == (3, b"hello", b"oops")


def test_a_command_for_an_unknown_user_is_not_started() -> None:
    with pytest.raises(NotStarted):
        run_sandboxed("echo hi\n", "no-such-user-here", 10, 4096, CommandLimits())


def test_a_command_whose_shell_cannot_start_is_not_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailsh_server.sandbox.BASH", "/nonexistent/bash")
    with pytest.raises(NotStarted):
        run_sandboxed("echo hi\n", getpass.getuser(), 10, 4096, CommandLimits())


@pytest.mark.skipif(os.geteuid() != 0, reason="starts a process as another user (CI runs as root)")
def test_commands_left_by_a_stopped_runner_are_killed_when_it_starts_again() -> None:
    """Their timeout went with the old runner: the new one ends them, and only them."""
    stranger = 54321  # a uid nothing else on this machine runs as
    leftover = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300"], user=stranger)
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        wait_until(
            lambda: sum(1 for p in os.listdir("/proc") if _live_uid(p) == stranger) >= 2,
            10,
            "the leftover command did not start",
        )
        assert kill_processes_of({stranger}) >= 2
        assert leftover.wait(timeout=10) == -9
        assert not any(_live_uid(p) == stranger for p in os.listdir("/proc") if p.isdigit())
        assert bystander.poll() is None  # another user's process lives on
    finally:
        for proc in (leftover, bystander):
            proc.kill()
            proc.wait()


def test_no_leftover_hunt_ever_targets_root_or_a_service_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    targeted: list[set[int]] = []
    monkeypatch.setattr(
        "mailsh_server.runner.kill_processes_of", lambda uids: targeted.append(uids) or 0
    )
    stop_leftovers({"root", "postfix", "nobody", "no-such-user-here"})
    assert targeted == [set()]


def _uid(user: str) -> int:
    return pwd.getpwnam(user).pw_uid


def test_what_a_users_commands_leave_running_is_killed_when_its_last_command_ends() -> None:
    killed: list[set[int]] = []
    occupancy = Occupancy(kill=lambda uids: killed.append(uids) or 0)
    with occupancy.running("nobody"):
        with occupancy.running("nobody"):
            pass
        assert killed == []  # another command of this user still runs
        with occupancy.running("daemon"):
            pass
        assert killed == [{_uid("daemon")}]
    assert killed == [{_uid("daemon")}, {_uid("nobody")}]


def test_leftovers_are_killed_also_when_the_command_failed() -> None:
    killed: list[set[int]] = []
    occupancy = Occupancy(kill=lambda uids: killed.append(uids) or 0)
    with pytest.raises(NotStarted), occupancy.running("nobody"):
        raise NotStarted("no bash")
    assert killed == [{_uid("nobody")}]


@pytest.mark.parametrize("user", ["root", "no-such-user-here"])
def test_no_occupancy_for_root_or_an_unknown_user(user: str) -> None:
    killed: list[set[int]] = []
    with pytest.raises(NotStarted), Occupancy(kill=lambda u: killed.append(u) or 0).running(user):
        pass
    assert killed == []
