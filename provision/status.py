"""`invoke status`: what a person checks on a server at a glance.

Health of each service, certificate days left and the server's last renewal,
DNS drift (records that differ from what `dns-update` would publish), queue
size, the last request accepted and refused, disk use of the volumes. One exec
in the container gathers the server's side (`mailsh_server.health --report`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import docker
from docker.models.containers import Container

from mailsh_acme.certificate import pem_not_after
from mailsh_server.protocol import HEALTH_MODULE, server_command
from provision import dkim
from provision.config import Settings
from provision.container import exec_in, find_container
from provision.dns.changes import RecordAction
from provision.dns.publish import MARK, update_dns
from provision.dns.registry import capabilities
from provision.engine import Engine
from provision.errors import MailshError
from provision.state import StateDir
from provision.state_volume import STATE_MOUNT, read_file

LOG_TAIL = 5000
_REQUEST = re.compile(
    r"^(?P<at>\S+) .*mailsh-request\[\d+\]: (?P<result>accepted|answered|refused|interrupted) "
    r"(?P<rest>.*)$"
)


@dataclass(frozen=True)
class RequestEvent:
    at: str
    result: str
    detail: str


@dataclass(frozen=True)
class ServerStatus:
    name: str
    engine: str
    state: str
    health: str = ""
    services: dict[str, str] = field(default_factory=dict)
    certificate_until: str | None = None
    certificate_days: int | None = None
    renewal: dict[str, Any] | None = None
    dns: str = ""
    dns_drift: list[str] = field(default_factory=list)
    queue: int | None = None
    last_accepted: RequestEvent | None = None
    last_refused: RequestEvent | None = None
    disk: dict[str, int] = field(default_factory=dict)
    dkim: list[str] = field(default_factory=list)  # the selectors in use, one line each

    @property
    def healthy(self) -> bool:
        return self.state == "running" and all(s == "RUNNING" for s in self.services.values())

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def last_requests(log: str) -> tuple[RequestEvent | None, RequestEvent | None]:
    """The last accepted (or answered) and the last refused request in a timestamped log."""
    accepted = refused = None
    for line in log.splitlines():
        found = _REQUEST.match(line)
        if found is None:
            continue
        event = RequestEvent(found["at"][:19].replace("T", " "), found["result"], found["rest"])
        if found["result"] == "refused":
            refused = event
        else:
            accepted = event
    return accepted, refused


def dns_drift(settings: Settings, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """A one-word verdict on the published records, and each record that differs."""
    if capabilities(settings).manual:
        return "manual (not checked)", []
    try:
        report = update_dns(settings, environ, lambda _m: None, dry_run=True)
    except MailshError as e:
        return f"unknown: {e.message}", []
    drift = [
        f"{MARK[c.action]} {c.kind} {c.name} {c.rtype}"
        for c in report.changes
        if c.action != RecordAction.UNCHANGED
    ]
    return ("in sync" if not drift else f"{len(drift)} differ"), drift


def _certificate(container: Container, now: dt.datetime) -> tuple[str | None, int | None]:
    chain = read_file(container, f"{STATE_MOUNT}/tls/fullchain.pem")
    if chain is None:
        return None, None
    until = pem_not_after(chain)
    return until.strftime("%Y-%m-%d"), (until - now).days


def server_status(
    settings: Settings,
    client: docker.DockerClient,
    engine: Engine,
    environ: Mapping[str, str],
    now: dt.datetime | None = None,
) -> ServerStatus:
    selectors = dkim.describe(
        dkim.load_selectors(StateDir(settings.state_dir.resolve()), settings.dkim.selector)
    )
    container = find_container(client, settings.container_name)
    if container is None:
        return ServerStatus(settings.container_name, str(engine), "missing", dkim=selectors)
    dns, drift = dns_drift(settings, environ)
    until, days = _certificate(container, now or dt.datetime.now(dt.UTC))
    state = container.attrs.get("State", {})
    report: dict[str, Any] = {}
    if container.status == "running":
        code, out = exec_in(container, server_command(HEALTH_MODULE, "--report"))
        if code == 0:
            report = json.loads(out)
    log = container.logs(tail=LOG_TAIL, timestamps=True).decode(errors="replace")
    accepted, refused = last_requests(log)
    return ServerStatus(
        name=settings.container_name,
        engine=str(engine),
        state=container.status,
        health=state.get("Health", {}).get("Status", "unknown"),
        services=report.get("services", {}),
        certificate_until=until,
        certificate_days=days,
        renewal=report.get("renewal"),
        dns=dns,
        dns_drift=drift,
        dkim=selectors,
        queue=report.get("queue"),
        last_accepted=accepted,
        last_refused=refused,
        disk=report.get("disk", {}),
    )
