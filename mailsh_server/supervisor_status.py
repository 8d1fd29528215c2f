"""Parse `supervisorctl status` output (pure)."""

from __future__ import annotations


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
