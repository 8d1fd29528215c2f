"""Run, reload, inspect and remove the mailsh container through the Docker SDK."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import Ulimit

from mailsh_server import protocol
from mailsh_server.protocol import server_command
from provision.config import Settings
from provision.config_types import join_host_port
from provision.digest import content_hash
from provision.engine import Engine, published_host, reachable_here
from provision.errors import DockerError, HealthError
from provision.polling import poll
from provision.state_volume import STATE_MOUNT

# What must outlive the container, in named volumes kept when it is re-created for a
# new image and removed only by `invoke down --purge --yes`: the state the operator
# ships (keys, certificates, configs) with what the server adds to it (request
# journal, keyring, renewal status); postfix's queue (accepted requests not yet
# answered) and local mailboxes.
VOLUMES = {"state": STATE_MOUNT, "spool": "/var/spool/postfix", "mail": "/var/mail"}
LABEL_SPEC = "org.mailsh.spec"
NOFILE = 8192
HEALTH_TIMEOUT_S = 90.0
HEALTH_POLL_S = 0.5

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunSpec:
    """Everything the container is created from; its hash decides on re-creation."""

    name: str
    image_id: str
    hostname: str
    bind: str
    smtp_port: int
    https_port: int
    network: str | None = None
    ip: str | None = None
    dns: tuple[str, ...] = ()
    memory_mb: int = 2048
    pids: int = 4096

    @property
    def digest(self) -> str:
        fields = json.dumps({k: str(v) for k, v in self.__dict__.items()}, sort_keys=True).encode()
        return content_hash([("spec", fields)])

    def create_kwargs(self) -> dict[str, Any]:
        return {
            "image": self.image_id,
            "name": self.name,
            "hostname": self.hostname,
            "detach": True,
            "ports": {
                "25/tcp": (self.bind, self.smtp_port),
                "443/tcp": (self.bind, self.https_port),
            },
            "volumes": {
                volume_name(self.name, role): {"bind": path, "mode": "rw"}
                for role, path in VOLUMES.items()
            },
            "ulimits": [Ulimit(name="nofile", soft=NOFILE, hard=NOFILE)],
            "mem_limit": f"{self.memory_mb}m",
            "pids_limit": self.pids,
            "restart_policy": {"Name": "unless-stopped"},
            "labels": {LABEL_SPEC: self.digest},
            **({"dns": list(self.dns)} if self.dns else {}),
        }


def volume_name(container_name: str, role: str) -> str:
    return f"{container_name}-{role}"


def run_spec(settings: Settings, image_id: str) -> RunSpec:
    return RunSpec(
        name=settings.container_name,
        image_id=image_id,
        hostname=settings.fqdn,
        bind=settings.ports.bind,
        smtp_port=settings.ports.smtp,
        https_port=settings.ports.https,
        network=settings.network.docker_network,
        ip=settings.network.ip,
        dns=tuple(settings.network.dns),
        memory_mb=settings.container.memory_mb,
        pids=settings.container.pids,
    )


def find_container(client: docker.DockerClient, name: str) -> Container | None:
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as e:
        raise DockerError(f"cannot inspect container {name}: {e.explanation}") from None


def create_container(client: docker.DockerClient, spec: RunSpec) -> Container:
    """Create the container (not started), on the configured network when there is one."""
    try:
        container = client.containers.create(**spec.create_kwargs())
        if spec.network:
            client.networks.get(spec.network).connect(container, ipv4_address=spec.ip)
            client.networks.get("bridge").disconnect(container)
        return container
    except docker.errors.NotFound as e:
        raise DockerError(
            f"cannot create container {spec.name}: {e.explanation}",
            hint="check [network] docker_network in mailsh.toml",
        ) from None
    except docker.errors.APIError as e:
        raise DockerError(f"cannot create container {spec.name}: {e.explanation}") from None


def start_container(container: Container) -> None:
    """Start it; a published port taken by another service is said as such."""
    try:
        container.start()
    except docker.errors.APIError as e:
        hint = None
        if "port is already allocated" in str(e) or "address already in use" in str(e):
            hint = "another service uses that port: change [ports] in mailsh.toml"
        message = f"cannot start container {container.name}: {e.explanation}"
        raise DockerError(message, hint) from None


def restart_container(container: Container) -> None:
    try:
        container.restart(timeout=10)
    except docker.errors.APIError as e:
        raise DockerError(f"cannot restart container {container.name}: {e.explanation}") from None


def docker_health(container: Container) -> str | None:
    """The engine's health status (starting, healthy, unhealthy), None without a check."""
    health = container.attrs.get("State", {}).get("Health") or {}
    status = health.get("Status")
    return str(status) if status else None


def remove_container(container: Container) -> None:
    try:
        container.remove(force=True, v=False)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as e:
        raise DockerError(f"cannot remove container {container.name}: {e.explanation}") from None


def remove_volumes(client: docker.DockerClient, container_name: str) -> list[str]:
    """Delete the server's volumes (state, queue, mailboxes); returns the names removed."""
    removed = []
    for role in VOLUMES:
        name = volume_name(container_name, role)
        try:
            client.volumes.get(name).remove()
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as e:
            raise DockerError(f"cannot remove volume {name}: {e.explanation}") from None
        removed.append(name)
    return removed


def exec_in(
    container: Container,
    cmd: list[str],
    user: str = "root",
    environment: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run a command in the container; exit code and combined output. What it must not show
    to other users goes in `environment` (any process's arguments are world-readable)."""
    try:
        result = container.exec_run(cmd, user=user, demux=False, environment=environment)
    except docker.errors.APIError as e:
        raise DockerError(f"cannot run {cmd[0]} in {container.name}: {e.explanation}") from None
    output = result.output.decode(errors="replace") if result.output else ""
    return int(result.exit_code or 0), output


def applied_config_hash(container: Container) -> str:
    code, out = exec_in(container, ["cat", "/run/mailsh/config-hash"])
    return out.strip() if code == 0 else ""


def reload_config(container: Container) -> None:
    code, out = exec_in(container, server_command(protocol.INSTALL_CONFIG_MODULE, "--reload"))
    if code != 0:
        raise DockerError(f"reloading the configuration failed: {out.strip()}")


def smtp_banner(host: str, port: int, timeout: float = 5.0) -> str:
    """The greeting line of the SMTP server at host:port."""
    smtp = smtplib.SMTP(timeout=timeout)
    try:
        code, msg = smtp.connect(host, port)
        smtp.quit()
    finally:
        smtp.close()
    if code != 220:
        raise OSError(f"SMTP greeting {code}")
    return msg.decode(errors="replace")


def greeting(container: Container, spec: RunSpec, engine: Engine) -> str:
    """The SMTP greeting through the published port, from here; when the port is on the
    loopback of the engine's machine (unreachable from here), from inside the container."""
    if reachable_here(spec.bind, engine):
        return smtp_banner(published_host(spec.bind, engine), spec.smtp_port)
    code, out = exec_in(container, server_command(protocol.HEALTH_MODULE, "--greet"))
    if code != 0:
        raise OSError(out.strip() or "no SMTP greeting inside the container")
    return out.strip()


def wait_healthy(
    container: Container,
    spec: RunSpec,
    engine: Engine,
    progress: Progress,
    timeout: float = HEALTH_TIMEOUT_S,
) -> str:
    """Wait until supervisord runs every program and the published SMTP port greets."""

    def greets() -> str:
        try:
            return greeting(container, spec, engine)
        except (OSError, smtplib.SMTPException) as e:
            where = join_host_port(published_host(spec.bind, engine), spec.smtp_port)
            raise NotYet(f"published port {where}: {e}") from None

    announcement = "waiting for the services to become healthy"
    return _wait_for(container, greets, progress, announcement, timeout)


def wait_services(
    container: Container, progress: Progress, timeout: float = HEALTH_TIMEOUT_S
) -> None:
    """Wait until supervisord runs every program: a container the engine has just (re)started
    is still installing its configuration, and its postfix cannot be reloaded yet."""
    _wait_for(
        container, lambda: "", progress, f"waiting for {container.name} to finish starting", timeout
    )


class NotYet(Exception):
    """A last check of `_wait_for` that has not passed yet, and why."""


def _wait_for(
    container: Container,
    check: Callable[[], str],
    progress: Progress,
    announcement: str,
    timeout: float,
) -> str:
    """What `check` returns once every service runs (it raises NotYet while it cannot)."""
    problem = "not checked yet"
    restarts = container.attrs.get("RestartCount", 0)

    def ready() -> str | None:
        nonlocal problem
        container.reload()
        restarted = container.attrs.get("RestartCount", 0) > restarts
        if container.status in ("exited", "dead") or restarted:
            logs = container.logs(tail=15).decode(errors="replace").strip()
            raise HealthError(f"container {container.name} exited during start-up:\n{logs}")
        if container.status == "running":
            code, out = exec_in(container, server_command(protocol.HEALTH_MODULE))
            problem = out.strip()
            if code == 0:
                try:
                    return check()
                except NotYet as e:
                    problem = str(e)
        return None

    announced = False

    def waiting(_elapsed: float) -> None:
        nonlocal announced
        if not announced:
            progress(announcement)
            announced = True

    return poll(
        ready,
        timeout,
        HEALTH_POLL_S,
        lambda: HealthError(
            f"container {container.name} not healthy after {timeout:.0f} s: {problem}",
            hint="see `invoke logs`",
        ),
        waiting=waiting,
    )
