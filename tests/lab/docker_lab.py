"""Build and run lab containers with the Docker SDK; the host reaches them on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import tarfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.networks import Network

from provision.image import LOCAL_BASE, build_base_image

LAB_DIR = Path(__file__).resolve().parent
LAB_LABEL = "org.mailsh.lab"
# Several test runs may share one engine (developers in parallel): every name
# carries this run's id, and each run takes its own subnet.
LAB_ID = os.environ.get("MAILSH_LAB_ID") or uuid.uuid4().hex[:6]


def lab_name(role: str) -> str:
    return f"mailsh-lab-{LAB_ID}-{role}"


def ensure_base_image(client: docker.DockerClient) -> str:
    """The debootstrap-built base every lab image starts from (built once per machine)."""
    try:
        client.images.get(LOCAL_BASE)
    except docker.errors.ImageNotFound:
        build_base_image(client, tag=LOCAL_BASE)
    return LOCAL_BASE


def build_lab_image(
    client: docker.DockerClient, name: str, extra: Sequence[tuple[str, Path]] = ()
) -> str:
    """Build tests/lab/<name>/Dockerfile (FROM the base image) as mailsh-lab/<name>;
    `extra` adds files from elsewhere to the context, as (name in the context, path)."""
    ensure_base_image(client)
    directory = LAB_DIR / name
    files = [
        (p.relative_to(directory).as_posix(), p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    ]
    # Tagged by content: parallel test runs of different checkouts share one engine.
    digest = hashlib.sha256(client.images.get(LOCAL_BASE).id.encode())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for arcname, path in [*files, *extra]:
            tar.add(path, arcname=arcname)
            digest.update(arcname.encode() + b"\0" + path.read_bytes() + b"\0")
    tag = f"mailsh-lab/{name}:{digest.hexdigest()[:12]}"
    with suppress(docker.errors.ImageNotFound):
        client.images.get(tag)
        return tag
    for chunk in client.api.build(
        fileobj=io.BytesIO(buf.getvalue()),
        custom_context=True,
        tag=tag,
        rm=True,
        forcerm=True,
        decode=True,
        buildargs={"BASE": LOCAL_BASE},
    ):
        if "error" in chunk:
            raise RuntimeError(f"building {tag}: {chunk['error']}")
    return tag


@dataclass
class Lab:
    """The lab network: a user-defined bridge with its own /24, so zones can name addresses."""

    network: Network
    subnet: str

    def ip(self, index: int) -> str:
        """A fixed address in the lab subnet (index 2..250)."""
        return self.subnet.rsplit(".", 1)[0] + f".{index}"

    @property
    def reverse_zone(self) -> str:
        a, b, c, _ = self.subnet.split("/")[0].split(".")
        return f"{c}.{b}.{a}.in-addr.arpa"


@contextmanager
def lab_network(client: docker.DockerClient) -> Iterator[Lab]:
    network = None
    for third in range(16, 256):
        subnet = f"172.29.{third}.0/24"
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
        try:
            network = client.networks.create(
                lab_name("net"), driver="bridge", ipam=ipam, labels={LAB_LABEL: LAB_ID}
            )
            break
        except docker.errors.APIError as e:
            if "overlap" not in str(e) and "already exists" not in str(e):
                raise
    if network is None:
        raise RuntimeError("lab: no free 172.29.x.0/24 subnet for the lab network")
    try:
        yield Lab(network, subnet)
    finally:
        network.reload()
        for c in network.containers:
            c.remove(force=True)
        network.remove()


def run_lab_container(
    client: docker.DockerClient,
    image: str,
    lab: Lab,
    role: str,
    ip: str,
    ports: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Container:
    """Start a lab container at a fixed address; `ports` publish on 127.0.0.1 (None: random)."""
    published = {p: ("127.0.0.1", hp) for p, hp in (ports or {}).items()}
    name = lab_name(role)
    with suppress(docker.errors.NotFound):
        client.containers.get(name).remove(force=True)
    container = client.containers.create(
        image, name=name, detach=True, ports=published, labels={LAB_LABEL: LAB_ID}, **kwargs
    )
    lab.network.connect(container, ipv4_address=ip, aliases=[role])
    client.networks.get("bridge").disconnect(container)
    container.start()
    container.reload()
    return container


def host_port(container: Container, port: str) -> int:
    """The 127.0.0.1 port Docker published for `port` (e.g. "53/udp")."""
    container.reload()
    binding = container.attrs["NetworkSettings"]["Ports"][port]
    return int(binding[0]["HostPort"])


def free_port() -> int:
    """A port free on 127.0.0.1 for both TCP and UDP (DNS needs the same number for both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
