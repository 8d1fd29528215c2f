from __future__ import annotations

from mailsh_server.supervisor_status import not_running, program_states

CAPTURED = """\
caddy                            RUNNING   pid 33, uptime 0:00:07
opendkim                         BACKOFF   Exited too quickly (process log may have details)
postfix                          RUNNING   pid 32, uptime 0:00:07
syslog                           STARTING
"""


def test_status_lines_map_programs_to_states() -> None:
    assert program_states(CAPTURED) == {
        "caddy": "RUNNING",
        "opendkim": "BACKOFF",
        "postfix": "RUNNING",
        "syslog": "STARTING",
    }


def test_programs_not_running_are_listed() -> None:
    assert not_running(program_states(CAPTURED)) == ["opendkim", "syslog"]
