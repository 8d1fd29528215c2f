"""The container's state volume, filled from the operator's state directory.

The operator's state directory is the source of truth for what the server
needs: rendered configs, keys, certificates, trusted keys, secrets. It
reaches the named volume `<container>-state` through the Docker API
(`put_archive`), never a bind mount, so it works the same on a remote engine.
What the server writes there itself (the request journal, its keyring, a
certificate it renewed) stays: a shipped manifest lists the operator's files,
and the container removes only operator files that are no longer listed.
"""

from __future__ import annotations

import datetime as dt
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker.errors
from docker.models.containers import Container

from mailsh_acme.certificate import pem_not_after, still_usable
from mailsh_server import protocol
from provision.errors import DockerError
from provision.state import StateDir, install_certificate

STATE_MOUNT = protocol.STATE_MOUNT
# What the operator owns in the volume (the container's install_config prunes only these).
SHIPPED = protocol.OPERATOR_DIRS
MANIFEST = protocol.OPERATOR_MANIFEST_FILE


def _entries(state: StateDir) -> Iterator[Path]:
    for top in SHIPPED:
        root = state.root / top
        if root.is_dir():
            yield root
            yield from sorted(root.rglob("*"))


def state_archive(state: StateDir) -> bytes:
    """A tar of the shipped part of the state directory and its manifest (owned by root)."""
    buf = io.BytesIO()
    files: list[str] = []
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in _entries(state):
            name = path.relative_to(state.root).as_posix()
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                continue
            info = tar.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if path.is_file():
                files.append(name)
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
        manifest = ("\n".join(files) + "\n").encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(manifest)
        info.mode = 0o600
        tar.addfile(info, io.BytesIO(manifest))
    return buf.getvalue()


def ship_state(container: Container, state: StateDir) -> None:
    """Copy the operator's state into the container's state volume (created or running)."""
    try:
        ok = container.put_archive(STATE_MOUNT, state_archive(state))
    except docker.errors.APIError as e:
        raise DockerError(f"cannot copy the state into {container.name}: {e.explanation}") from None
    if not ok:
        raise DockerError(f"the engine refused the state archive for {container.name}")


def read_file(container: Container, path: str) -> bytes | None:
    """One file from the container (running or not); None when it does not exist."""
    try:
        chunks, _ = container.get_archive(path)
        data = b"".join(chunks)
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as e:
        raise DockerError(f"cannot read {path} in {container.name}: {e.explanation}") from None
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.next()
        if member is None or not member.isfile():
            return None
        extracted = tar.extractfile(member)
        return extracted.read() if extracted is not None else None


def adopt_renewed_certificate(container: Container, state: StateDir, names: list[str]) -> bool:
    """Take a certificate the server renewed by itself into the operator's state, so that
    shipping the state never puts an older certificate back. Whether one was taken."""
    chain = read_file(container, f"{STATE_MOUNT}/tls/fullchain.pem")
    if chain is None or (state.cert_file.exists() and chain == state.cert_file.read_bytes()):
        return False
    now = dt.datetime.now(dt.UTC)
    if not still_usable(chain, names, now):
        return False
    current = state.cert_file.read_bytes() if state.cert_file.exists() else None
    if (
        current is not None
        and still_usable(current, names, now)
        and pem_not_after(chain) <= pem_not_after(current)
    ):
        return False
    key = read_file(container, f"{STATE_MOUNT}/tls/privkey.pem")
    if key is None:
        return False
    install_certificate(state, chain, key)
    return True
