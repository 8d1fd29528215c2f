"""Run one verified command as the `run_as` user: `sandbox.py TIMEOUT_S < script`.

Started by the handler through sudo (the only thing its sudoers rule allows),
so it runs as the target user. A fresh temporary working directory, a
minimal environment, stdin from /dev/null; after TIMEOUT_S (or when bash
exits) the whole process group is killed. Exit status: bash's, or 124 after
a timeout. Standalone on purpose: stdlib only, no package imports.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile

TIMED_OUT = 124
PATH = "/usr/local/bin:/usr/bin:/bin"


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    timeout_s = float(argv[1])
    script = sys.stdin.buffer.read()
    user = pwd.getpwuid(os.getuid())
    workdir = tempfile.mkdtemp(prefix="mailsh-")
    try:
        script_path = os.path.join(workdir, ".mailsh-command.sh")
        with open(script_path, "wb") as f:
            f.write(script)
        env = {
            "PATH": PATH,
            "HOME": user.pw_dir,
            "USER": user.pw_name,
            "LOGNAME": user.pw_name,
            "SHELL": "/bin/bash",
            "LANG": "C.UTF-8",
            "TMPDIR": workdir,
            "PWD": workdir,
        }
        proc = subprocess.Popen(
            ["/bin/bash", "--noprofile", "--norc", script_path],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            status = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
            print(f"mailsh: killed after {timeout_s:g} s (timeout_s)", file=sys.stderr)
            return TIMED_OUT
        _kill_group(proc.pid)  # nothing the command started outlives it
        return status if status >= 0 else 128 - status
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
