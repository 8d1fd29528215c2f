"""`invoke logs` and `down`: operate the running container (`status`: provision.status)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import docker

from provision.config import Settings
from provision.container import find_container, remove_container, remove_volumes
from provision.errors import MailshError


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
            done.append(f"deleted volume {name}")
        if settings.state_dir.exists():
            shutil.rmtree(settings.state_dir)
            done.append(f"deleted state directory {settings.state_dir} (keys and certificates)")
    return done
