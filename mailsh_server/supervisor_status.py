"""supervisord's tools and their output: the environment they run in, `supervisorctl
status` parsed (pure)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# A stand-in for pkg_resources (see its docstring): 16 MB less for supervisord, and
# supervisorctl starts twice as fast (the health check runs it every 30 s).
SHIM = Path(__file__).resolve().parent / "supervisor_shim"


def supervisor_env() -> dict[str, str]:
    """The environment for supervisord and supervisorctl: the shim ahead of site-packages."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{SHIM}:{path}" if path else str(SHIM)}


def supervisorctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["supervisorctl", *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
        env=supervisor_env(),
    )


def program_states(output: str) -> dict[str, str]:
    """Map program name to state, e.g. {"postfix": "RUNNING"}."""
    states: dict[str, str] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith(" "):
            states[parts[0]] = parts[1]
    return states


def not_running(states: dict[str, str]) -> list[str]:
    return sorted(name for name, state in states.items() if state != "RUNNING")
