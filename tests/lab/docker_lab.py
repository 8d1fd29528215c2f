"""The Docker SDK side of the lab: the base image, per-run names, and the remote-engine
containers (tests/lab/remote.py) that compose.yml cannot describe."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import tarfile
import uuid
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.networks import Network

from provision.base_image import LOCAL_BASE, build_base_image

LAB_DIR = Path(__file__).resolve().parent
LAB_LABEL = "org.mailsh.lab"
# Several test runs may share one engine (developers in parallel): every name
# carries this run's id, and each run takes its own subnet (tests/lab/compose.py).
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


def context_files(directory: Path, root: Path | None = None) -> list[tuple[str, Path]]:
    """The files of a build context, as (name in the context, path); names are relative
    to `root` (default: `directory`)."""
    base = root or directory
    paths = [directory] if directory.is_file() else sorted(directory.rglob("*"))
    return [
        (p.relative_to(base).as_posix(), p)
        for p in paths
        if p.is_file() and "__pycache__" not in p.parts
    ]


def content_tag(client: docker.DockerClient, files: Sequence[tuple[str, Path]]) -> str:
    """A tag from the build context's files and the base image: parallel test runs of
    different checkouts share one engine without retagging each other's images."""
    digest = hashlib.sha256(client.images.get(LOCAL_BASE).id.encode())
    for arcname, path in files:
        digest.update(arcname.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def build_lab_image(
    client: docker.DockerClient, name: str, extra: Sequence[tuple[str, Path]] = ()
) -> str:
    """Build tests/lab/<name>/Dockerfile (FROM the base image) as mailsh-lab/<name>;
    `extra` adds files from elsewhere to the context, as (name in the context, path)."""
    ensure_base_image(client)
    files = [*context_files(LAB_DIR / name), *extra]
    tag = f"mailsh-lab/{name}:{content_tag(client, files)}"
    with suppress(docker.errors.ImageNotFound):
        client.images.get(tag)
        return tag
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for arcname, path in files:
            tar.add(path, arcname=arcname)
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


def run_lab_container(
    client: docker.DockerClient,
    image: str,
    network: Network,
    role: str,
    ip: str,
) -> Container:
    """Start a container at a fixed address of the lab network (and on no other)."""
    name = lab_name(role)
    with suppress(docker.errors.NotFound):
        client.containers.get(name).remove(force=True)
    container = client.containers.create(image, name=name, detach=True, labels={LAB_LABEL: LAB_ID})
    network.connect(container, ipv4_address=ip, aliases=[role])
    client.networks.get("bridge").disconnect(container)
    container.start()
    container.reload()
    return container


def read_container_file(container: Container, path: str) -> bytes | None:
    """A file in a container (None when it does not exist)."""
    try:
        chunks, _ = container.get_archive(path)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.next()
        extracted = tar.extractfile(member) if member is not None else None
        return extracted.read() if extracted is not None else None


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
