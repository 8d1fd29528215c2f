"""The lab as a docker-compose project (tests/lab/compose.yml) that pytest-docker starts.

Several test runs may share one engine: each run is its own project
(`mailsh-lab-<run id>`) with its own /24, host ports and secrets, which compose reads
from an --env-file. Zones name lab addresses, so the /24 is chosen before anything
starts; the host reaches the lab only on 127.0.0.1.
"""

from __future__ import annotations

import base64
import secrets
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import docker
from docker.models.containers import Container
from docker.models.networks import Network
from pytest_docker.plugin import DockerComposeExecutor, Services, get_docker_services

from provision.image import LOCAL_BASE
from tests.lab.docker_lab import (
    LAB_DIR,
    LAB_ID,
    content_tag,
    context_files,
    free_port,
    read_container_file,
)

COMPOSE_FILE = LAB_DIR / "compose.yml"
# Debian's docker-compose (v1): bookworm packages no Compose v2.
COMPOSE_COMMAND = "docker-compose"
SETUP = ["up -d"]
CLEANUP = ["down --volumes --remove-orphans --timeout 2"]
# The services compose builds (their contexts), for the images' content tag.
BUILT = ("bind", "duckdns", "pebble", "receiver", "lab-cert.sh", ".dockerignore")
# The /24s a run may take, as their first three octets; 172.29.250 is the hand-run default.
NETS = tuple(f"172.29.{third}" for third in range(16, 250))
PROJECT_LABEL = "com.docker.compose.project"


def project_name() -> str:
    return f"mailsh-lab-{LAB_ID}"


def compose_command(env_file: Path) -> str:
    """The command pytest-docker runs (through a shell), reading this run's variables."""
    return f"{COMPOSE_COMMAND} --env-file {shlex.quote(str(env_file))}"


@dataclass(frozen=True)
class LabEnv:
    """What differs between runs: the variables of compose.yml (tests/lab/.env has the
    values for a lab brought up by hand)."""

    net: str
    dns_port: int
    tsig_secret: str
    duckdns_token: str
    imap_password: str
    image_tag: str

    def write(self, path: Path) -> None:
        values = {
            "LAB_BASE_IMAGE": LOCAL_BASE,
            "LAB_IMAGE_TAG": self.image_tag,
            "LAB_NET": self.net,
            # DNS needs one number for UDP and TCP; the other ports are left to Docker.
            "LAB_DNS_PORT": str(self.dns_port),
            "LAB_ACME_PORT": "",
            "LAB_ACME_MANAGEMENT_PORT": "",
            "LAB_DUCKDNS_PORT": "",
            "LAB_SMTP_PORT": "",
            "LAB_IMAP_PORT": "",
            "LAB_IMAPS_PORT": "",
            "LAB_TSIG_SECRET": self.tsig_secret,
            "LAB_DUCKDNS_TOKEN": self.duckdns_token,
            "LAB_IMAP_PASSWORD": self.imap_password,
        }
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))


def image_tag(client: docker.DockerClient) -> str:
    """The lab images' tag: their build contexts' content (compose builds what is missing)."""
    files = [f for top in BUILT for f in context_files(LAB_DIR / top, LAB_DIR)]
    return content_tag(client, files)


def _taken_nets(client: docker.DockerClient) -> set[str]:
    taken = set()
    for network in client.networks.list():
        for pool in (network.attrs.get("IPAM") or {}).get("Config") or []:
            taken.add(str(pool.get("Subnet", "")).rsplit(".", 1)[0])
    return taken


def create_lab(
    client: docker.DockerClient, executor: DockerComposeExecutor, env_file: Path
) -> LabEnv:
    """Choose a free /24 and create the project (`up --no-start`, which builds missing
    images): compose creates the network first, so a /24 that another run took in the
    meantime fails at once and the next one is tried."""
    env = LabEnv(
        net="",
        dns_port=free_port(),
        tsig_secret=base64.b64encode(secrets.token_bytes(32)).decode(),
        duckdns_token=secrets.token_hex(16),
        imap_password=secrets.token_hex(8),
        image_tag=image_tag(client),
    )
    taken = _taken_nets(client)
    for net in NETS:
        if net in taken:
            continue
        env = replace(env, net=net)
        env.write(env_file)
        try:
            executor.execute("up --no-start")
            return env
        except Exception as e:  # pytest-docker raises Exception with compose's output
            if "overlaps" in str(e):
                continue
            raise
    raise RuntimeError("lab: no free 172.29.x.0/24 for the lab network")


def remove_project(
    client: docker.DockerClient, executor: DockerComposeExecutor, project: str
) -> None:
    """`down` what is left of the project (after a start that failed half-way)."""
    label = {"label": f"{PROJECT_LABEL}={project}"}
    if client.containers.list(all=True, filters=label) or client.networks.list(filters=label):
        for command in CLEANUP:
            executor.execute(command)


@dataclass
class Lab:
    """The running lab: its network and /24, its services' containers and ports."""

    client: docker.DockerClient
    services: Services
    project: str
    env: LabEnv
    network: Network

    @classmethod
    def attach(
        cls, client: docker.DockerClient, services: Services, project: str, env: LabEnv
    ) -> Lab:
        return cls(client, services, project, env, client.networks.get(f"{project}_lab"))

    @property
    def subnet(self) -> str:
        return f"{self.env.net}.0/24"

    def ip(self, index: int) -> str:
        """A fixed address in the lab subnet (index 2..250; compose.yml lists those taken)."""
        return f"{self.env.net}.{index}"

    @property
    def reverse_zone(self) -> str:
        a, b, c = self.env.net.split(".")
        return f"{c}.{b}.{a}.in-addr.arpa"

    def container(self, service: str) -> Container:
        labels = [f"{PROJECT_LABEL}={self.project}", f"com.docker.compose.service={service}"]
        found = self.client.containers.list(all=True, filters={"label": labels})
        assert len(found) == 1, f"lab: {len(found)} containers for the service {service}"
        return found[0]

    def address(self, service: str) -> str:
        """The service's address on the lab network."""
        attrs = self.container(service).attrs
        return str(attrs["NetworkSettings"]["Networks"][self.network.name]["IPAddress"])

    def port(self, service: str, port: int) -> int:
        """The 127.0.0.1 port Docker published for the service's TCP `port`."""
        return self.services.port_for(service, port)

    def environment(self, service: str) -> dict[str, str]:
        """The service's environment, as compose.yml sets it."""
        pairs = self.container(service).attrs["Config"]["Env"] or []
        return dict(pair.split("=", 1) for pair in pairs)

    def read(self, service: str, path: str) -> bytes | None:
        """A file in the service's container (None while it does not exist)."""
        return read_container_file(self.container(service), path)

    def wait_ready(self, service: str, check: Callable[[], bool], timeout: float) -> None:
        """pytest-docker's wait for a service; a container that exits fails it at once."""
        container = self.container(service)

        def ready() -> bool:
            if check():
                return True
            container.reload()
            if container.status == "exited":
                log = container.logs(tail=40).decode(errors="replace")
                raise RuntimeError(f"lab: {service} exited:\n{log}")
            return False

        self.services.wait_until_responsive(ready, timeout=timeout, pause=0.2)

    def remove_strays(self) -> None:
        """Remove what tests attached to the lab network and left there (compose removes
        its own containers and the network)."""
        self.network.reload()
        for container in self.network.containers:
            if container.labels.get(PROJECT_LABEL) != self.project:
                container.remove(force=True)


@contextmanager
def running_lab(client: docker.DockerClient, directory: Path) -> Iterator[Lab]:
    """The lab outside pytest (benchmarks), with the commands the fixtures run."""
    env_file = directory / "lab.env"
    command, project = compose_command(env_file), project_name()
    executor = DockerComposeExecutor(command, str(COMPOSE_FILE), project)
    try:
        env = create_lab(client, executor, env_file)
        with get_docker_services(command, str(COMPOSE_FILE), project, SETUP, CLEANUP) as services:
            lab = Lab.attach(client, services, project, env)
            try:
                yield lab
            finally:
                lab.remove_strays()
    finally:
        remove_project(client, executor, project)
