"""Run an accepted command as its user: through the resident runner, or directly.

The handler runs as mailsh-server and cannot switch users: it asks the root runner
(`mailsh_server.runner`) over its socket. A process that already is the command's
user, or root (tests, a shell in the container), runs the sandbox itself.
"""

from __future__ import annotations

import os
import pwd

from mailsh_server.runner import ask_runner
from mailsh_server.sandbox import Captured, CommandLimits, RunResult, run_sandboxed

__all__ = ["Captured", "CommandLimits", "RunResult", "run_command"]


def run_command(
    command: str,
    run_as: str,
    timeout_s: int,
    max_output_bytes: int,
    limits: CommandLimits | None = None,
) -> RunResult:
    bounds = limits or CommandLimits(cpu_s=timeout_s)
    if os.geteuid() == 0 or pwd.getpwuid(os.geteuid()).pw_name == run_as:
        return run_sandboxed(command, run_as, timeout_s, max_output_bytes, bounds)
    return ask_runner(command, run_as, timeout_s, max_output_bytes, bounds)
