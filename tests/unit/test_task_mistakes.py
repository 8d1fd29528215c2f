"""Tasks answer a user's mistake at once, with one line and exit 1, and create or send
nothing."""

from __future__ import annotations

from pathlib import Path

import gnupg
import pytest

from tests.fixtures.server import run_invoke


@pytest.fixture
def gnupg_home(tmp_path: Path) -> Path:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    return home


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["keygen", "--name", " ", "--email", "a@example.org"], "--name is empty"),
        (["keygen", "--name", "A", "--email", "alice"], "'alice' is not an e-mail address"),
        (
            ["keygen", "--name", "A", "--email", "a@example.org", "--passphrase-env", "NOT_SET"],
            "environment variable NOT_SET is not set",
        ),
        (["trust", "/nonexistent/key.asc"], "/nonexistent/key.asc: no such file"),
        (["base-image", "--tag", "My Base"], "--tag: 'My Base' is not a Docker image name"),
        (["send", "--file", "/nonexistent/s.sh"], "--file /nonexistent/s.sh: No such file"),
        (["send", "--file", "/usr/bin/true"], "--file /usr/bin/true: not UTF-8 text"),
        (["send", "--command", "id", "--wait", "--timeout", "0"], "--timeout must be"),
    ],
    ids=[
        "empty name",
        "not an address",
        "passphrase unset",
        "missing key file",
        "bad tag",
        "missing script",
        "binary script",
        "no time to wait",
    ],
)
def test_a_mistake_is_one_line_exit_1_and_no_key(
    tmp_path: Path, gnupg_home: Path, args: list[str], said: str
) -> None:
    config = tmp_path / "mailsh.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    env = {"GNUPGHOME": str(gnupg_home), "NOT_SET": ""}
    result = run_invoke(config, *args, env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert gnupg.GPG(gnupghome=str(gnupg_home)).list_keys() == []
