"""Shared fixtures: the Docker engine and the offline lab (docs/ARCHITECTURE.md §7).

Integration tests need a Docker engine. They never skip: without one they
fail with the reason, so CI cannot pass without having run them. The lab is the
docker-compose project tests/lab/compose.yml, which pytest-docker starts once per
session (`docker_services`) and removes at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from pytest_docker.plugin import DockerComposeExecutor, Services

from tests.lab.bind import LabDns, wait_for_bind
from tests.lab.compose import (
    CLEANUP,
    COMPOSE_FILE,
    SETUP,
    Lab,
    LabEnv,
    compose_command,
    create_lab,
    project_name,
    remove_project,
)
from tests.lab.docker_lab import ensure_base_image

pytest_plugins = [
    "tests.fixtures.server",
    "tests.fixtures.gpg",
    "tests.fixtures.requests",
    "tests.fixtures.dns",
    "tests.fixtures.acme",
    "tests.fixtures.deliverability",
    "tests.fixtures.remote",
]


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except docker.errors.DockerException as e:
        pytest.fail(f"integration tests need a Docker engine (run scripts/setup-docker): {e}")
    return client


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    return ensure_base_image(docker_client)


# pytest-docker's fixtures, for this lab.


@pytest.fixture(scope="session")
def lab_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The --env-file of this run's compose commands (written by `lab_env`)."""
    return tmp_path_factory.mktemp("lab") / "lab.env"


@pytest.fixture(scope="session")
def docker_compose_command(lab_env_file: Path) -> str:
    return compose_command(lab_env_file)


@pytest.fixture(scope="session")
def docker_compose_file(base_image: str) -> str:
    """tests/lab/compose.yml, once the base image its images build FROM exists."""
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return project_name()


@pytest.fixture(scope="session")
def lab_env(
    docker_client: docker.DockerClient,
    docker_compose_command: str,
    docker_compose_file: str,
    docker_compose_project_name: str,
    lab_env_file: Path,
) -> Iterator[LabEnv]:
    """This run's /24, ports and secrets, the project created with them; whatever is left
    of it at the end (a failed start included) is removed."""
    executor = DockerComposeExecutor(
        docker_compose_command, docker_compose_file, docker_compose_project_name
    )
    try:
        yield create_lab(docker_client, executor, lab_env_file)
    finally:
        remove_project(docker_client, executor, docker_compose_project_name)


@pytest.fixture(scope="session")
def docker_setup(lab_env: LabEnv) -> list[str]:
    return SETUP


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return CLEANUP


@pytest.fixture(scope="session")
def lab(
    docker_client: docker.DockerClient,
    docker_services: Services,
    docker_compose_project_name: str,
    lab_env: LabEnv,
) -> Iterator[Lab]:
    """The running lab; the containers tests attach to its network go with it."""
    running = Lab.attach(docker_client, docker_services, docker_compose_project_name, lab_env)
    yield running
    running.remove_strays()


@pytest.fixture(scope="session")
def lab_dns(lab: Lab) -> LabDns:
    """BIND authoritative for mailsh.test, client.test, duckdns.test and the lab reverse zone."""
    return wait_for_bind(lab)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.integration)


os.environ.setdefault("DOCKER_API_VERSION", "1.41")
