"""`invoke status`, `logs` and `down`: operate the running container."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import docker

from provision.config import Settings
from provision.container import exec_in, find_container, remove_container, remove_volumes
from provision.errors import MailshError


@dataclass(frozen=True)
class Status:
    name: str
    state: str
    health: str
    image: str
    ports: dict[str, str]
    services: str


def status(settings: Settings, client: docker.DockerClient) -> Status | None:
    container = find_container(client, settings.container_name)
    if container is None:
        return None
    state = container.attrs.get("State", {})
    health = state.get("Health", {}).get("Status", "unknown")
    ports = {
        port: ", ".join(f"{b['HostIp']}:{b['HostPort']}" for b in binds or [])
        for port, binds in container.attrs.get("NetworkSettings", {}).get("Ports", {}).items()
    }
    services = ""
    if container.status == "running":
        _, services = exec_in(container, ["supervisorctl", "status"])
    tags = container.image.tags if container.image else []
    return Status(
        container.name or settings.container_name,
        container.status,
        health,
        tags[0] if tags else "",
        ports,
        services.strip(),
    )


def logs(settings: Settings, client: docker.DockerClient, tail: int, follow: bool) -> Iterator[str]:
    container = find_container(client, settings.container_name)
    if container is None:
        raise MailshError(f"no container {settings.container_name}", hint="run `invoke provision`")
    if follow:
        for chunk in container.logs(stream=True, follow=True, tail=tail):
            yield chunk.decode(errors="replace")
    else:
        yield container.logs(tail=tail).decode(errors="replace")


def down(settings: Settings, client: docker.DockerClient, purge: bool) -> list[str]:
    """Remove the container (state kept unless `purge`). Returns what was done."""
    done = []
    container = find_container(client, settings.container_name)
    if container is not None:
        remove_container(container)
        done.append(f"removed container {settings.container_name}")
    if purge:
        for name in remove_volumes(client, settings.container_name):
            done.append(f"deleted volume {name} (mail queue and mailboxes)")
        if settings.state_dir.exists():
            shutil.rmtree(settings.state_dir)
            done.append(f"deleted state directory {settings.state_dir} (keys and certificates)")
    return done
