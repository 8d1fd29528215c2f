"""Several servers from one machine: one config per server, one command for all (issue 15)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import tomli_w

from provision.container import find_container
from tests.fixtures.server import remove_server, run_invoke, server_config


@dataclass
class Fleet:
    directory: Path
    names: list[str]
    provisioned: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def fleet(
    docker_client: docker.DockerClient, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    servers = root / "servers"
    servers.mkdir()
    names = []
    for name in ("alpha", "beta"):
        config = server_config(root / name, domain=f"{name}.mailsh.test")
        (servers / f"{name}.toml").write_text(tomli_w.dumps(config))
        names.append(config["container_name"])
    run = run_invoke(servers / "alpha.toml", "provision", "--config", str(servers))
    yield Fleet(servers, names, run)
    for name in names:
        remove_server(docker_client, name)


def test_two_servers_are_provisioned_from_one_config_directory_in_one_command(
    fleet: Fleet, docker_client: docker.DockerClient
) -> None:
    assert fleet.provisioned.returncode == 0, fleet.provisioned.stderr
    assert "mailsh servers" in fleet.provisioned.stdout
    for name in fleet.names:
        container = find_container(docker_client, name)
        assert container is not None and container.status == "running"


def test_status_shows_every_server_of_the_directory(fleet: Fleet) -> None:
    run = run_invoke(
        fleet.directory / "alpha.toml", "status", "--config", str(fleet.directory), "--json"
    )
    assert run.returncode == 0, run.stderr
    servers = json.loads(run.stdout)
    assert [s["name"] for s in servers] == fleet.names
    for server in servers:
        assert server["state"] == "running"
        assert set(server["services"].values()) == {"RUNNING"}
        assert server["certificate_days"] > 700  # self-signed, 825 days
        assert server["queue"] == 0
        assert server["disk"]["state"] > 0


def test_status_table_names_each_server(fleet: Fleet) -> None:
    run = run_invoke(
        fleet.directory / "alpha.toml",
        "status",
        "--config",
        str(fleet.directory),
        env={"COLUMNS": "200"},
    )
    assert run.returncode == 0, run.stderr
    for name in fleet.names:
        assert f"{name}: running, health" in run.stdout
