"""Run one verified command as the `run_as` user: `sandbox.py TIMEOUT_S < script`.

Started by the handler through sudo (the only thing its sudoers rule allows),
so it runs as the target user. A fresh temporary working directory, a
minimal environment, stdin from /dev/null; after TIMEOUT_S (or when bash
exits) the whole process group is killed. Exit status: bash's, or 124 after
a timeout. Standalone and light on purpose (run with `python3 -I -S`): only
builtin modules, as it starts once per request.
"""

from __future__ import annotations

import os
import pwd
import signal
import sys

TIMED_OUT = 124
PATH = "/usr/local/bin:/usr/bin:/bin"


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return


def _remove_tree(top: str) -> None:
    for root, dirs, files in os.walk(top, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            path = os.path.join(root, name)
            if os.path.islink(path):
                os.unlink(path)
            else:
                os.rmdir(path)
    os.rmdir(top)


def _exec_bash(workdir: str, script_path: str, env: dict[str, str]) -> None:
    os.setsid()
    os.chdir(workdir)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.execve("/bin/bash", ["bash", "--noprofile", "--norc", script_path], env)  # noqa: S606


def main(argv: list[str]) -> int:
    timeout_s = float(argv[1])
    script = sys.stdin.buffer.read()
    user = pwd.getpwuid(os.getuid())
    workdir = os.path.join("/tmp", "mailsh-" + os.urandom(8).hex())  # noqa: S108 - 0700, random
    os.mkdir(workdir, 0o700)
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
        pid = os.fork()
        if pid == 0:
            try:
                _exec_bash(workdir, script_path, env)
            finally:
                os._exit(127)
        timed_out = []

        def on_alarm(_signum: int, _frame: object) -> None:
            timed_out.append(True)
            _kill_group(pid)

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        _, status = os.waitpid(pid, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        _kill_group(pid)  # nothing the command started outlives it
        if timed_out:
            print(f"mailsh: killed after {timeout_s:g} s (timeout_s)", file=sys.stderr)
            return TIMED_OUT
        code = os.waitstatus_to_exitcode(status)
        return code if code >= 0 else 128 - code
    finally:
        _remove_tree(workdir)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
