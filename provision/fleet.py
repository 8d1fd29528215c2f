"""Several servers from one machine: one config per server, acted on concurrently.

`--config` may be given several times and may name a directory (every `*.toml` in
it). Each server keeps its own state directory, container and engine; a task
runs on all of them at once and reports one row per server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from provision.config import Settings, find_config, load_settings
from provision.errors import ConfigError, MailshError

T = TypeVar("T")
Progress = Callable[[str], None]
MAX_WORKERS = 8


@dataclass(frozen=True)
class Server:
    """One server of the fleet: its config file (None: the embedded default)."""

    config: Path | None
    settings: Settings

    @property
    def name(self) -> str:
        return self.settings.container_name


@dataclass(frozen=True)
class ServerOutcome(Generic[T]):
    """What a task gave for one server of the fleet: its value, or the error it met."""

    server: Server
    value: T | None = None
    error: MailshError | None = None


def config_files(entries: Sequence[str], environ: Mapping[str, str]) -> list[Path | None]:
    """The config files `--config` entries name (a directory: its *.toml, sorted)."""
    if not entries:
        return [find_config(None, environ)]
    found: list[Path | None] = []
    for entry in entries:
        path = Path(entry)
        if path.is_dir():
            files = sorted(path.glob("*.toml"))
            if not files:
                raise ConfigError(f"{path}: no *.toml config in this directory")
            found.extend(files)
        else:
            found.append(path)
    return found


def load_servers(entries: Sequence[str], environ: Mapping[str, str] | None = None) -> list[Server]:
    """Every server's settings; two servers may share neither a name nor a state directory."""
    env = os.environ if environ is None else environ
    servers = [Server(path, load_settings(path, env)) for path in config_files(entries, env)]
    for attribute in ("container_name", "state_dir"):
        seen: dict[object, Path | None] = {}
        for server in servers:
            value = getattr(server.settings, attribute)
            if value in seen:
                raise ConfigError(
                    f"{server.config} and {seen[value]} have the same {attribute} ({value})",
                    hint="each server needs its own container_name and state_dir",
                )
            seen[value] = server.config
    return servers


def pick(servers: Sequence[Server], name: str | None) -> Server:
    """The server called `name` (its container_name or its config file's name)."""
    if name is None:
        if len(servers) != 1:
            names = ", ".join(s.name for s in servers)
            raise ConfigError(f"{len(servers)} servers ({names})", hint="pick one with --server")
        return servers[0]
    for server in servers:
        if name in (server.name, server.config.stem if server.config else None):
            return server
    names = ", ".join(s.name for s in servers)
    raise ConfigError(f"no server {name} (have: {names})")


def run_all(
    servers: Sequence[Server],
    work: Callable[[Server, Progress], T],
    progress: Progress,
) -> list[ServerOutcome[T]]:
    """`work` on every server at once; a MailshError is that server's outcome. Progress
    lines carry the server's name when there are several."""

    def one(server: Server) -> ServerOutcome[T]:
        def said(message: str) -> None:
            progress(f"[{server.name}] {message}" if len(servers) > 1 else message)

        try:
            return ServerOutcome(server, value=work(server, said))
        except MailshError as e:
            return ServerOutcome(server, error=e)

    if len(servers) == 1:
        return [one(servers[0])]
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(servers))) as pool:
        return list(pool.map(one, servers))
