"""The tasks' flags, through invoke: -c/--config, -d/--debug and -j/--json mean the same in
every task, and no other short flag exists."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from invoke.collection import Collection

import tasks
from tests.fixtures.server import run_invoke


def _invoke(*args: str) -> subprocess.CompletedProcess[str]:
    """`invoke ARGS` with $MAILSH_CONFIG naming a file that is not there: only -c gives one."""
    return run_invoke(Path("/nonexistent/mailsh.toml"), *args)


def _task_names() -> list[str]:
    return sorted(Collection.from_module(tasks).task_names)


@pytest.mark.parametrize("name", _task_names())
def test_every_task_has_config_and_debug_and_no_short_flag_of_its_own(name: str) -> None:
    arguments = Collection.from_module(tasks)[name].get_arguments()
    shorts = {n: a.name for a in arguments for n in a.names if len(n) == 1}
    assert {"c": "config", "d": "debug"}.items() <= shorts.items()
    assert set(shorts) <= {"c", "d", "j"} and shorts.get("j", "json") == "json"


def test_dns_update_dry_run_prints_json_with_the_short_flags(tmp_path: Path) -> None:
    config = tmp_path / "mailsh.toml"
    config.write_text(f'domain = "example.org"\nstate_dir = "{tmp_path / "state"}"\n')
    run = _invoke("dns-update", "-c", str(config), "--dry-run", "-j")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["provider"], report["dry_run"]) == ("manual", True)
    mx = next(r for r in report["records"] if r["kind"] == "MX")
    assert (mx["name"], mx["values"]) == ("example.org", ["10 mail.example.org."])
    assert not (tmp_path / "state").exists()


def test_send_takes_c_as_its_config(tmp_path: Path) -> None:
    run = _invoke("send", "-c", str(tmp_path / "absent.toml"), "--command", "true")
    assert run.returncode == 1
    assert run.stderr == f"mailsh: {tmp_path / 'absent.toml'}: no such config file " + (
        "(create it or unset MAILSH_CONFIG)\n"
    )


def test_debug_shows_the_traceback_of_a_user_error(tmp_path: Path) -> None:
    run = _invoke("logs", "-c", str(tmp_path / "absent.toml"), "-d")
    assert run.returncode == 1
    assert "Traceback" in run.stderr and "ConfigError" in run.stderr
