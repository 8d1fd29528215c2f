"""Provisioning figures: cold, no-op and config-only provision, image size.

Run from the repository root with a Docker engine and the base image present:
    python3 benchmarks/provision.py
It uses its own container name, ports and state directory and removes them after.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provision.config import parse_settings
from provision.container import find_container, remove_volumes
from provision.deploy import provision
from provision.engine import docker_client
from provision.image import LOCAL_BASE
from tests.lab.docker_lab import free_port


def _remove(client: docker.DockerClient, name: str) -> None:
    container = find_container(client, name)
    if container is not None:
        container.remove(force=True)
    remove_volumes(client, name)


def main() -> None:
    client = docker_client(parse_settings({}, "benchmark", Path.cwd()))
    with tempfile.TemporaryDirectory(prefix="mailsh-bench-") as tmp:
        data = {
            "container_name": "mailsh-bench",
            "state_dir": str(Path(tmp) / "state"),
            "image": {"base": LOCAL_BASE, "name": "mailsh-bench"},
            "ports": {"smtp": free_port(), "https": free_port()},
        }
        settings = parse_settings(data, "benchmark", Path(tmp))
        _remove(client, settings.container_name)

        def timed(label: str, **kwargs: bool) -> float:
            start = time.perf_counter()
            result = provision(settings, client, lambda _m: None, **kwargs)
            elapsed = time.perf_counter() - start
            print(f"{label:<38} {elapsed:6.2f} s  ({result.action.value})", flush=True)
            return elapsed

        try:
            timed("cold provision (no layer cache)", no_cache=True)
            _remove(client, settings.container_name)
            timed("provision, image cached, new container")
            timed("no-op provision")
            settings = parse_settings(
                {**data, "smtp": {"max_message_mb": 7}}, "benchmark", Path(tmp)
            )
            timed("config-only provision (reload)")
            container = find_container(client, settings.container_name)
            assert container is not None and container.image is not None
            print(f"{'image size':<38} {container.image.attrs['Size'] / 2**20:6.0f} MiB")
        finally:
            _remove(client, settings.container_name)


if __name__ == "__main__":
    main()
