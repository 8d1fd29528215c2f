"""Which Docker engine mailsh drives, and where the ports it publishes are reached.

The engine is `[engine] host` (or `context`) in the config, else DOCKER_HOST,
else the current docker context (DOCKER_CONTEXT or `docker context use`),
else the local socket. A remote engine (ssh://, tcp://) publishes ports on
its own machine: health checks, summaries and clients dial that machine's
address, never 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import docker
import docker.errors
import paramiko
from docker.context import ContextAPI

from provision.config import Settings
from provision.config_types import join_host_port
from provision.errors import DockerError

ANY_ADDRESS = ("0.0.0.0", "::")  # noqa: S104 - compared with, never bound here
CLIENT_TIMEOUT_S = 300


@dataclass(frozen=True)
class Engine:
    """A Docker engine address; `url` None is the local default socket."""

    url: str | None
    source: str
    tls: Any = None

    @property
    def host(self) -> str | None:
        """The engine machine's address, or None when the engine is on this machine."""
        if self.url is None:
            return None
        parts = urlsplit(self.url)
        if parts.scheme in ("unix", "npipe", "fd") or not parts.hostname:
            return None
        return parts.hostname

    @property
    def remote(self) -> bool:
        return self.host is not None

    def __str__(self) -> str:
        return self.url or "the local Docker socket"


def select_engine(settings: Settings, environ: Mapping[str, str] | None = None) -> Engine:
    """The engine for this server: config, then DOCKER_HOST, then the docker context."""
    env = os.environ if environ is None else environ
    if settings.engine.host:
        return Engine(settings.engine.host, "[engine] host")
    if env.get("DOCKER_HOST"):
        return Engine(env["DOCKER_HOST"], "DOCKER_HOST")
    name = settings.engine.context or env.get("DOCKER_CONTEXT")
    if name is None:
        current = ContextAPI.get_current_context()
        name = current.name if current is not None else "default"
    if name == "default":
        return Engine(None, "local socket")
    context = ContextAPI.get_context(name)
    if context is None:
        raise DockerError(f"docker context {name} does not exist", hint="see `docker context ls`")
    return Engine(context.Host, f"context {name}", context.TLSConfig)


def connect(engine: Engine, environ: Mapping[str, str] | None = None) -> docker.DockerClient:
    """A client for `engine`, checked with a ping; errors say how to fix the access."""
    try:
        if engine.source == "DOCKER_HOST" or engine.url is None:
            env = dict(os.environ if environ is None else environ)
            client = docker.from_env(timeout=CLIENT_TIMEOUT_S, environment=env)
        else:
            client = docker.DockerClient(
                base_url=engine.url, tls=engine.tls or False, timeout=CLIENT_TIMEOUT_S
            )
        client.ping()
    except docker.errors.DockerException as e:
        raise DockerError(
            f"cannot reach the Docker engine at {engine}: {e}", _hint(engine, e)
        ) from None
    except (paramiko.SSHException, OSError) as e:  # ssh://: unknown host key, refused login
        raise DockerError(
            f"cannot reach the Docker engine at {engine}: {type(e).__name__}: {e}",
            _hint(engine, e),
        ) from None
    return client


def _hint(engine: Engine, error: BaseException) -> str:
    text = str(error)
    if "known_hosts" in text:
        return f"connect once with `ssh {_ssh_target(engine)}` to accept its host key"
    if engine.url and engine.url.startswith("ssh://"):
        return (
            f"check that `ssh {_ssh_target(engine)} docker version` works "
            "(key-based login, the docker CLI on the server)"
        )
    return "start dockerd (scripts/setup-docker does it), or set DOCKER_HOST or [engine] host"


def _ssh_target(engine: Engine) -> str:
    parts = urlsplit(engine.url or "")
    user = f"{parts.username}@" if parts.username else ""
    port = f" -p {parts.port}" if parts.port else ""
    return f"{user}{parts.hostname}{port}"


def connected(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> tuple[docker.DockerClient, Engine]:
    """A client connected to the engine this server's config selects, and that engine."""
    where = select_engine(settings, environ)
    return connect(where, environ), where


def docker_client(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> docker.DockerClient:
    """A connected client for the engine this server's config selects."""
    return connected(settings, environ)[0]


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def published_host(bind: str, engine: Engine) -> str:
    """The address this machine dials for a port the engine publishes on `bind`."""
    if bind in ANY_ADDRESS:
        return engine.host or "127.0.0.1"
    return bind


def reachable_here(bind: str, engine: Engine) -> bool:
    """False when the port is published on the loopback of another machine."""
    return not (engine.remote and is_loopback(bind))


def with_published_endpoints(settings: Settings, engine: Engine) -> Settings:
    """The settings with `[deliverability] smtp/https` pointing at the engine's machine
    (unless set), so that the checks dial the published ports where they are."""
    d = settings.deliverability
    host = published_host(settings.ports.bind, engine)
    update = {
        "smtp": d.smtp or join_host_port(host, settings.ports.smtp),
        "https": d.https or join_host_port(host, settings.ports.https),
    }
    return settings.model_copy(update={"deliverability": d.model_copy(update=update)})
