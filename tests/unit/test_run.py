"""The sandbox runner: timeout kills the whole group, output is capped, workdir is fresh."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from mailsh_server.run import CommandLimits, run_command

ME = getpass.getuser()


def test_timeout_kills_the_command_and_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    result = run_command(f"sleep 60 & echo $! > {pids}\nsleep 60\n", ME, 1, 4096)
    assert result.timed_out
    assert result.duration_s < 10
    assert not alive(int(pids.read_text()))


def alive(pid: int) -> bool:
    """Running or sleeping; a killed child may linger as a zombie until its reaper runs."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_output_over_the_cap_is_truncated() -> None:
    result = run_command("head -c 10000 /dev/zero | tr '\\0' x\n", ME, 10, 4096)
    assert len(result.stdout.data) == 4096
    assert result.stdout.total == 10000
    assert result.stdout.truncated


def test_command_runs_in_a_fresh_directory_with_a_minimal_environment() -> None:
    os.environ["MAILSH_SECRET_PROBE"] = "leak"
    try:
        result = run_command("pwd; env | sort\n", ME, 10, 65536)
    finally:
        del os.environ["MAILSH_SECRET_PROBE"]
    cwd, *env = result.stdout.data.decode().splitlines()
    assert Path(cwd).name.startswith("mailsh-")
    assert not Path(cwd).exists()
    assert not any(line.startswith("MAILSH_SECRET_PROBE") for line in env)


def test_exit_status_and_stderr_are_reported() -> None:
    result = run_command("echo oops >&2; exit 3\n", ME, 10, 4096)
    assert result.exit_status == 3
    assert result.stderr.data == b"oops\n"
    assert not result.timed_out


def test_a_command_cannot_write_a_file_over_its_size_limit(tmp_path: Path) -> None:
    limits = CommandLimits(file_kb=64, cpu_s=10)
    target = tmp_path / "big"
    result = run_command(f"head -c 1000000 /dev/zero > {target}\n", ME, 10, 4096, limits)
    assert result.exit_status != 0
    assert target.stat().st_size <= 64 * 1024


def test_a_command_cannot_allocate_over_its_memory_limit() -> None:
    limits = CommandLimits(memory_kb=200 * 1024, cpu_s=10)
    result = run_command("python3 -c 'x = bytearray(400 * 2**20)'\n", ME, 10, 4096, limits)
    assert result.exit_status != 0
    assert b"MemoryError" in result.stderr.data


def test_a_command_is_stopped_at_its_cpu_limit() -> None:
    limits = CommandLimits(cpu_s=1)
    result = run_command("while :; do :; done\n", ME, 30, 4096, limits)
    assert result.exit_status != 0
    assert result.duration_s < 10
