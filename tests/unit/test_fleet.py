"""Several servers from one machine: which configs, which server."""

from __future__ import annotations

from pathlib import Path

import pytest

from provision.errors import ConfigError
from provision.fleet import load_servers, pick


def _write(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(body)
    return path


def test_a_directory_names_every_config_in_it(tmp_path: Path) -> None:
    _write(tmp_path / "servers", "b", 'container_name = "mail-b"\nstate_dir = "b"\n')
    _write(tmp_path / "servers", "a", 'container_name = "mail-a"\nstate_dir = "a"\n')
    servers = load_servers([str(tmp_path / "servers")], {})
    assert [s.name for s in servers] == ["mail-a", "mail-b"]
    assert servers[0].settings.state_dir != servers[1].settings.state_dir


def test_two_servers_may_not_share_a_state_directory(tmp_path: Path) -> None:
    _write(tmp_path, "a", 'container_name = "mail-a"\nstate_dir = "same"\n')
    _write(tmp_path, "b", 'container_name = "mail-b"\nstate_dir = "same"\n')
    with pytest.raises(ConfigError, match="same state_dir"):
        load_servers([str(tmp_path)], {})


def test_server_is_picked_by_container_or_config_name(tmp_path: Path) -> None:
    _write(tmp_path, "alpha", 'container_name = "mail-a"\nstate_dir = "a"\n')
    _write(tmp_path, "beta", 'container_name = "mail-b"\nstate_dir = "b"\n')
    servers = load_servers([str(tmp_path)], {})
    assert pick(servers, "beta").name == "mail-b"
    assert pick(servers, "mail-a").name == "mail-a"
    with pytest.raises(ConfigError, match="pick one with --server"):
        pick(servers, None)
