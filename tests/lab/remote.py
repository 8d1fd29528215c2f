"""A remote Docker engine without docker-in-docker (privileged containers do not start here).

The "VPS" is an sshd container in the host's network namespace, listening on the lab
network's gateway address, with this machine's engine socket mounted and Debian's
docker CLI: `ssh://root@<gateway>:<port>` reaches the engine as it would a VPS's, and
the ports the engine publishes are reached at that same address. The operator is a
container on the lab network with Python and mailsh, whose state directory exists
only inside it: a bind mount of it could not work, exactly as on a real VPS.
"""

from __future__ import annotations

import importlib.metadata
import io
import re
import socket
import subprocess
import tarfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import docker
import docker.errors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from docker.models.containers import Container
from packaging.requirements import Requirement

from tests.lab.compose import Lab
from tests.lab.docker_lab import (
    LAB_ID,
    LAB_LABEL,
    build_lab_image,
    free_port,
    lab_name,
    read_container_file,
    run_lab_container,
)
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_INDEX = 70
MAILSH_DIR = "/opt/mailsh"
CODE = ("provision", "mailsh_server", "mailsh_acme", "templates")
SITE_PACKAGES = "site-packages"


@dataclass
class RemoteLab:
    """The engine's ssh:// address, the address its published ports answer on, and the
    operator container that drives it."""

    engine_url: str
    host: str
    operator: Container = field(repr=False)
    sshd: Container = field(repr=False)

    def run(
        self, *cmd: str, env: dict[str, str] | None = None, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A command in the operator container, as its user would type it."""
        if stdin is not None:
            self.put("/tmp/stdin", stdin)
            cmd = ("sh", "-c", 'exec "$@" < /tmp/stdin', "sh", *cmd)
        result = self.operator.exec_run(list(cmd), environment=env or {}, demux=True)
        out, err = result.output
        return subprocess.CompletedProcess(
            list(cmd),
            int(result.exit_code or 0),
            (out or b"").decode(errors="replace"),
            (err or b"").decode(errors="replace"),
        )

    def invoke(
        self, config: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`invoke <args>` in the operator container against the config at `config`."""
        return self.run(
            "python3",
            "-m",
            "invoke",
            "--search-root",
            MAILSH_DIR,
            *args,
            env={"MAILSH_CONFIG": config, **(env or {})},
        )

    def put(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write a file in the operator container (its directory is created)."""
        target = PurePosixPath(path)
        self.operator.exec_run(["mkdir", "-p", str(target.parent)])
        assert self.operator.put_archive(str(target.parent), tar_of({target.name: (data, mode)}))

    def read(self, path: str) -> bytes:
        data = read_container_file(self.operator, path)
        assert data is not None, f"no {path} in the operator container"
        return data


def _requirement_closure(names: list[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions `names` need, with what they need in turn."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = [Requirement(n) for n in names]
    while pending:
        req = pending.pop()
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        if key in found:
            continue
        dist = importlib.metadata.distribution(req.name)
        found[key] = dist
        for text in dist.requires or []:
            sub = Requirement(text)
            wanted = [{"extra": e} for e in req.extras] or [{"extra": ""}]
            if sub.marker is None or any(sub.marker.evaluate(env) for env in wanted):
                pending.append(sub)
    return list(found.values())


def operator_packages() -> list[tuple[str, Path]]:
    """mailsh's dependencies as installed here, for the operator image's site-packages."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    files: dict[str, Path] = {}
    for dist in _requirement_closure(project["dependencies"]):
        for entry in dist.files or []:
            if entry.parts[0] == ".." or "__pycache__" in entry.parts:
                continue
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                files[f"{SITE_PACKAGES}/{entry.as_posix()}"] = path
    return sorted(files.items())


def mailsh_code() -> bytes:
    """mailsh as its user installs it: the packages, templates and tasks.py."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for top in CODE:
            for path in sorted((ROOT / top).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    tar.add(path, arcname=f"mailsh/{path.relative_to(ROOT).as_posix()}")
        for name in ("tasks.py", "pyproject.toml"):
            tar.add(ROOT / name, arcname=f"mailsh/{name}")
    return buf.getvalue()


def tar_of(files: dict[str, tuple[bytes, int]]) -> bytes:
    """An in-memory tar of `files` (name: (data, mode)), for put_archive."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _ed25519() -> tuple[bytes, str]:
    """A new key: its OpenSSH private file and its `ssh-ed25519 AAAA...` public line."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


def _accepts(host: str, port: int) -> bool:
    with suppress(OSError), socket.create_connection((host, port), timeout=0.5) as sock:
        return sock.recv(4).startswith(b"SSH-")
    return False


def _start_sshd(
    client: docker.DockerClient, host: str, port: int, client_key: str
) -> tuple[Container, str]:
    """sshd on `host`:`port` of this machine; the container and its public host key."""
    image = build_lab_image(client, "sshd")
    name = lab_name("sshd")
    with suppress(docker.errors.NotFound):
        client.containers.get(name).remove(force=True)
    host_key, host_public = _ed25519()
    container = client.containers.create(
        image,
        name=name,
        detach=True,
        network_mode="host",
        labels={LAB_LABEL: LAB_ID},
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
        command=[
            "/usr/sbin/sshd",
            "-D",
            "-e",
            "-p",
            str(port),
            "-o",
            f"ListenAddress={host}",
            "-o",
            "HostKey=/etc/ssh/ssh_host_ed25519_key",
            "-o",
            "PermitRootLogin=prohibit-password",
            "-o",
            "PasswordAuthentication=no",
            "-o",
            "UsePAM=no",
        ],
    )
    container.put_archive("/etc/ssh", tar_of({"ssh_host_ed25519_key": (host_key, 0o600)}))
    container.put_archive("/root/.ssh", tar_of({"authorized_keys": (client_key.encode(), 0o600)}))
    container.start()
    return container, host_public


@contextmanager
def remote_lab(client: docker.DockerClient, lab: Lab) -> Iterator[RemoteLab]:
    """The sshd "VPS" and the operator container; both removed afterwards."""
    host = lab.ip(1)  # the lab bridge's address on this machine
    port = free_port()
    operator_key, operator_public = _ed25519()
    sshd, host_public = _start_sshd(client, host, port, operator_public)
    operator = None
    try:
        image = build_lab_image(client, "operator", extra=operator_packages())
        operator = run_lab_container(client, image, lab.network, "operator", lab.ip(OPERATOR_INDEX))
        known = f"[{host}]:{port} {host_public}\n".encode()
        operator.put_archive(
            "/root",
            tar_of({".ssh/id_ed25519": (operator_key, 0o600), ".ssh/known_hosts": (known, 0o644)}),
        )
        operator.exec_run(["chmod", "700", "/root/.ssh"])
        operator.put_archive("/opt", mailsh_code())
        wait_until(lambda: _accepts(host, port), 20, "lab: sshd not accepting connections")
        yield RemoteLab(f"ssh://root@{host}:{port}", host, operator, sshd)
    finally:
        for container in (operator, sshd):
            if container is not None:
                with suppress(docker.errors.NotFound):
                    container.remove(force=True)
