"""`invoke backup` and `invoke restore`: one archive that brings the same server back.

The archive (tar.gz, written 0600, optionally encrypted to an OpenPGP key) holds
the config, the operator's state directory (keys, certificates, trusted keys),
and what only the server has: the request journal (a consistent sqlite copy,
so replays stay refused after a move), the mail queue and the mailboxes.
Restore writes the state, creates the container on the target engine, fills
its volumes before the first start, then provisions as usual.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import docker
import gnupg
from docker.models.containers import Container

from mailsh_server import protocol
from mailsh_server.protocol import server_command
from provision.config import Settings, load_settings
from provision.container import (
    VOLUMES,
    create_container,
    exec_in,
    find_container,
    run_spec,
    volume_name,
)
from provision.deploy import ProvisionResult, provision
from provision.engine import Engine
from provision.errors import DockerError, MailshError
from provision.files import write_atomic
from provision.image import ensure_image
from provision.render import site_names
from provision.state import StateDir
from provision.state_volume import (
    MANIFEST as OPERATOR_MANIFEST,
)
from provision.state_volume import (
    SHIPPED,
    STATE_MOUNT,
    adopt_renewed_certificate,
    read_file,
)

Progress = Callable[[str], None]

FORMAT = 1
MANIFEST = "mailsh-backup.json"
CONFIG_MEMBER = "config/mailsh.toml"
JOURNAL = protocol.JOURNAL_FILE
SNAPSHOT = f"{STATE_MOUNT}/{protocol.JOURNAL_SNAPSHOT_FILE}"
QUEUE_DIRS = frozenset(
    {"active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming"}
    | {"maildrop", "saved", "trace"}
)


class BackupError(MailshError):
    """A backup could not be written, or an archive cannot be restored."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    seconds: float
    encrypted_to: str | None


class _Chunks(io.RawIOBase):
    """A readable stream over the chunks docker-py yields for an archive."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            try:
                self._left = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


def _keep(role: str, rel: str) -> bool:
    """What of each volume the archive holds: the server's own part of the state volume
    (the operator's part is in state/), the queue directories, every mailbox."""
    top = rel.split("/", 1)[0]
    if role == "state":
        operators = top in (*SHIPPED, OPERATOR_MANIFEST, "backup")
        rebuilt = rel.startswith(("server/gnupg", "server/.gnupg", JOURNAL + "-"))
        return not (operators or rebuilt)
    if role == "spool":
        return top in QUEUE_DIRS
    return True


def _copy_volume(
    out: tarfile.TarFile, container: Container, role: str, journal: bytes | None
) -> None:
    """Stream one volume into `out` under volumes/<role>/; the journal from its snapshot."""
    try:
        chunks, _ = container.get_archive(VOLUMES[role])
    except docker.errors.APIError as e:
        raise DockerError(f"cannot read the {role} volume: {e.explanation}") from None
    with tarfile.open(fileobj=io.BufferedReader(_Chunks(chunks)), mode="r|") as tar:
        for member in tar:
            rel = member.name.partition("/")[2]
            if not rel or not (member.isfile() or member.isdir()) or not _keep(role, rel):
                continue
            data = tar.extractfile(member) if member.isfile() else None
            if role == "state" and rel == JOURNAL and journal is not None:
                member.size, data = len(journal), io.BufferedReader(io.BytesIO(journal))
            member.name = f"volumes/{role}/{rel}"
            out.addfile(member, data)


@contextmanager
def _postfix_paused(container: Container, progress: Progress) -> Iterator[None]:
    """postfix stopped while its queue is copied, so no message moves half-way."""
    progress("pausing postfix while the queue is copied")
    exec_in(container, ["supervisorctl", "stop", "postfix"])
    try:
        yield
    finally:
        exec_in(container, ["supervisorctl", "start", "postfix"])


def _private_file(path: Path) -> tuple[IO[bytes], Path]:
    """A new 0600 file beside `path`, to be renamed onto it once complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w+b"), Path(tmp)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o600) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def default_name(settings: Settings) -> str:
    return f"{settings.container_name}-{dt.date.today().isoformat()}.mailsh-backup"


def backup(
    settings: Settings,
    config_path: Path | None,
    client: docker.DockerClient,
    engine: Engine,
    output: Path,
    progress: Progress,
    encrypt_to: str | None = None,
    gpg: gnupg.GPG | None = None,
) -> BackupResult:
    """Write the archive of one server to `output` (0600)."""
    started = time.monotonic()
    container = find_container(client, settings.container_name)
    if container is None:
        raise BackupError(
            f"no container {settings.container_name} on {engine} to back up",
            hint="run `invoke provision` first, or check [engine] and DOCKER_HOST",
        )
    state = StateDir(settings.state_dir.resolve())
    if adopt_renewed_certificate(container, state, site_names(settings)):
        progress("took the certificate the server renewed into the state directory")
    manifest = {
        "format": FORMAT,
        "container_name": settings.container_name,
        "domain": settings.domain,
        "engine": str(engine),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    f, tmp = _private_file(output)
    try:
        with f, tarfile.open(fileobj=f, mode="w:gz", compresslevel=6) as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            if config_path is not None and config_path.exists():
                _add_bytes(tar, CONFIG_MEMBER, config_path.read_bytes())
            tar.add(state.root, arcname="state")
            running = container.status == "running"
            with _postfix_paused(container, progress) if running else nullcontext():
                journal = _journal_snapshot(container) if running else None
                for role in VOLUMES:
                    progress(f"copying the {role} volume")
                    _copy_volume(tar, container, role, journal)
        if encrypt_to:
            _encrypt(tmp, encrypt_to, gpg or gnupg.GPG())
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return BackupResult(output, output.stat().st_size, time.monotonic() - started, encrypt_to)


def _journal_snapshot(container: Container) -> bytes | None:
    code, out = exec_in(container, server_command(protocol.SNAPSHOT_MODULE))
    if code != 0:
        raise BackupError(f"cannot copy the request journal: {out.strip()}")
    return read_file(container, SNAPSHOT) if out.startswith("snapshot") else None


def _encrypt(path: Path, recipient: str, gpg: gnupg.GPG) -> None:
    sealed = path.with_name(path.name + ".gpg")
    with path.open("rb") as f:
        result = gpg.encrypt_file(
            f, [recipient], output=str(sealed), armor=False, always_trust=True
        )
    if not result.ok:
        sealed.unlink(missing_ok=True)
        raise BackupError(
            f"cannot encrypt the backup to {recipient}: {result.status}",
            hint="check --encrypt-to against `gpg --list-keys`",
        )
    sealed.chmod(0o600)
    os.replace(sealed, path)


def _is_openpgp(head: bytes) -> bool:
    return head.startswith(b"-----BEGIN PGP MESSAGE") or (
        bool(head) and head[0] & 0x80 != 0 and not head.startswith(b"\x1f\x8b")
    )


@contextmanager
def open_archive(
    path: Path, gpg: gnupg.GPG | None = None, passphrase: str | None = None
) -> Iterator[tarfile.TarFile]:
    """The archive's tar, decrypted first (with the user's GnuPG key) when it is sealed."""
    try:
        with path.open("rb") as f:
            head = f.read(32)
    except OSError as e:
        raise BackupError(f"{path}: cannot read: {e.strerror}") from None
    with tempfile.TemporaryDirectory(prefix="mailsh-restore-") as tmp:
        plain = path
        if _is_openpgp(head):
            plain = Path(tmp) / "archive.tar.gz"
            with path.open("rb") as f:
                result = (gpg or gnupg.GPG()).decrypt_file(
                    f, output=str(plain), passphrase=passphrase
                )
            if not result.ok:
                raise BackupError(
                    f"{path}: cannot decrypt: {result.status}",
                    hint="restore with the GnuPG home that holds the key it was encrypted to",
                )
        try:
            with tarfile.open(plain, mode="r:gz") as tar:
                yield tar
        except (tarfile.TarError, EOFError, OSError) as e:
            raise BackupError(f"{path}: not a mailsh backup ({e})") from None


def _manifest(tar: tarfile.TarFile, path: Path) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
    except KeyError:
        member = None
    if member is None:
        raise BackupError(f"{path}: not a mailsh backup (no {MANIFEST})")
    manifest: dict[str, Any] = json.loads(member.read())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: backup format {manifest.get('format')} is not {FORMAT}")
    return manifest


def _under(tar: tarfile.TarFile, prefix: str) -> list[tuple[tarfile.TarInfo, tarfile.TarInfo]]:
    """Regular files and directories below `prefix`/: each as stored, and renamed relative
    to `prefix`. A name that would leave the directory makes the archive unusable."""
    found = []
    for member in tar.getmembers():
        if not member.name.startswith(prefix + "/") or not (member.isfile() or member.isdir()):
            continue
        renamed = copy.copy(member)  # TarInfo.replace() is Python >= 3.11.4
        renamed.name = member.name[len(prefix) + 1 :]
        parts = PurePosixPath(renamed.name).parts
        if not parts or renamed.name.startswith("/") or ".." in parts:
            raise BackupError(f"the archive holds an unsafe name: {member.name!r}")
        found.append((member, renamed))
    return found


def _extract_state(tar: tarfile.TarFile, root: Path) -> None:
    """The operator's state from the archive, with its modes (private keys stay 0600)."""
    for stored, renamed in _under(tar, "state"):
        target = root / renamed.name
        if stored.isdir():
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(stored.mode & 0o777)
            continue
        source = tar.extractfile(stored)
        assert source is not None
        write_atomic(target, source.read(), mode=stored.mode & 0o777)


def _volume_archive(tar: tarfile.TarFile, role: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as out:
        for stored, renamed in _under(tar, f"volumes/{role}"):
            out.addfile(renamed, tar.extractfile(stored) if stored.isfile() else None)
    return buf.getvalue()


@dataclass(frozen=True)
class RestoreResult:
    settings: Settings
    provisioned: ProvisionResult
    wrote_config: bool
    source: str


def restore(
    archive: Path,
    config_path: Path,
    connect: Callable[[Settings], tuple[docker.DockerClient, Engine]],
    progress: Progress,
    environ: Mapping[str, str],
    gpg: gnupg.GPG | None = None,
    force: bool = False,
) -> RestoreResult:
    """Bring the archived server back on the engine `config_path` selects."""
    passphrase = environ.get("MAILSH_GPG_PASSPHRASE")
    with open_archive(archive, gpg, passphrase) as tar:
        manifest = _manifest(tar, archive)
        wrote_config = not config_path.exists()
        if wrote_config:
            member = tar.extractfile(CONFIG_MEMBER) if CONFIG_MEMBER in tar.getnames() else None
            config_path.write_bytes(member.read() if member is not None else b"")
        settings = load_settings(config_path, environ)
        state = StateDir(settings.state_dir.resolve())
        if (state.root / "dkim").exists() and not force:
            raise BackupError(
                f"{state.root} already holds a server's keys",
                hint="restore into a new state_dir (a new config), or pass --force",
            )
        client, engine = connect(settings)
        _check_free(client, settings, engine)
        progress(f"restoring {manifest['container_name']} as {settings.container_name}")
        state.root.mkdir(parents=True, exist_ok=True)
        _extract_state(tar, state.root)
        image, _ = ensure_image(client, settings.image.base, settings.image.name, progress)
        container = create_container(client, run_spec(settings, image.id))
        for role, path in VOLUMES.items():
            data = _volume_archive(tar, role)
            if not container.put_archive(path, data):
                raise DockerError(f"the engine refused the {role} volume of the backup")
    result = provision(settings, client, progress, environ, engine=engine)
    exec_in(container, ["postqueue", "-f"])  # deliver the restored queue now, not at its next retry
    return RestoreResult(settings, result, wrote_config, str(manifest["container_name"]))


def _check_free(client: docker.DockerClient, settings: Settings, engine: Engine) -> None:
    name = settings.container_name
    if find_container(client, name) is not None:
        raise BackupError(
            f"a container {name} already exists on {engine}",
            hint="restore makes a new server: pick another container_name or `invoke down` it",
        )
    taken = {v.name for v in client.volumes.list()} & {volume_name(name, r) for r in VOLUMES}
    if taken:
        raise BackupError(
            f"volume {sorted(taken)[0]} already exists on {engine}",
            hint="`invoke down --purge --yes` removes it, or pick another container_name",
        )
