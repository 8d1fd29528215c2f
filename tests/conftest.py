"""Shared fixtures: the Docker engine and the offline lab (docs/ARCHITECTURE.md §7).

Integration tests need a Docker engine. They never skip: without one they
fail with the reason, so CI cannot pass without having run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.lab.bind import LabDns, start_bind
from tests.lab.docker_lab import Lab, ensure_base_image, lab_network

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


@pytest.fixture(scope="session")
def lab(docker_client: docker.DockerClient, base_image: str) -> Iterator[Lab]:
    with lab_network(docker_client) as network:
        yield network


@pytest.fixture(scope="session")
def lab_dns(
    docker_client: docker.DockerClient, lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> LabDns:
    """BIND authoritative for mailsh.test, client.test, duckdns.test and the lab reverse zone."""
    return start_bind(docker_client, lab, tmp_path_factory.mktemp("bind"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.integration)


os.environ.setdefault("DOCKER_API_VERSION", "1.41")
