"""The Debian base image for machines without a registry (`invoke base-image`):
debootstrap a minimal root filesystem, slim it, and `docker import` it."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image

from provision.config_types import image_reference
from provision.errors import DockerError, MailshError

LOCAL_BASE = "mailsh/base:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# debootstrap prints a line per package: say where it is at most this often.
PROGRESS_EVERY_S = 5.0

Progress = Callable[[str], None]


def build_base_image(
    client: docker.DockerClient,
    tag: str = LOCAL_BASE,
    suite: str = "bookworm",
    mirror: str = DEBIAN_MIRROR,
    progress: Progress = print,
) -> Image:
    """Build a minimal Debian image with debootstrap and `docker import` (no registry needed)."""
    try:
        image_reference(tag, digest=False)
    except ValueError as e:
        raise MailshError(f"--tag: {e}") from None
    if shutil.which("debootstrap") is None:
        raise MailshError(
            "debootstrap is not installed", hint="apt-get install debootstrap (needs root)"
        )
    with tempfile.TemporaryDirectory(prefix="mailsh-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        progress(f"debootstrap {suite} from {mirror} (about a minute)")
        run_debootstrap(suite, root, mirror, progress)
        _slim_rootfs(root)
        archive = Path(tmp) / "rootfs.tar"
        progress("importing the root filesystem")
        with tarfile.open(archive, "w") as tar:
            tar.add(root, arcname=".")
        repository, _, version = tag.partition(":")
        try:
            with archive.open("rb") as f:
                client.api.import_image_from_data(
                    f.read(),
                    repository=repository,
                    tag=version or "latest",
                    changes=['CMD ["/bin/bash"]', "ENV LANG=C.UTF-8"],
                )
            return client.images.get(tag)
        except docker.errors.ImageNotFound:
            raise DockerError(f"docker import reported success but {tag} is missing") from None
        except docker.errors.APIError as e:
            raise DockerError(f"docker import failed: {e.explanation}") from None


def run_debootstrap(
    suite: str,
    root: Path,
    mirror: str,
    progress: Progress,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """`debootstrap --variant=minbase`, saying what it does as it goes (its `I:` lines, at
    most every PROGRESS_EVERY_S, with the time so far); its last lines when it fails."""
    start = clock()
    said_at: float | None = None
    tail: deque[str] = deque(maxlen=3)
    with subprocess.Popen(
        ["debootstrap", "--variant=minbase", suite, str(root), mirror],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as run:
        assert run.stdout is not None
        for raw in run.stdout:
            line = raw.strip()
            if line:
                tail.append(line)
            now = clock()
            if line.startswith("I: ") and (said_at is None or now - said_at >= PROGRESS_EVERY_S):
                progress(f"debootstrap ({now - start:.0f} s): {line[3:]}")
                said_at = now
    if run.returncode != 0:
        raise MailshError("debootstrap failed: " + " / ".join(tail))


def _slim_rootfs(root: Path) -> None:
    """What a container never reads: apt's lists and cache, documentation, translations
    (33 MB of the 110), debconf's backups (the same rules apply to images built on it)."""
    for rel in (
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
        "var/cache/apt/archives",
    ):
        target = root / rel
        if target.is_dir():
            shutil.rmtree(target)
            target.mkdir()
    for old in (root / "var/cache/debconf").glob("*-old"):
        old.unlink()
    for locale in (root / "usr/share/locale").glob("*"):
        if locale.name != "locale.alias":
            shutil.rmtree(locale) if locale.is_dir() else locale.unlink()
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    # debootstrap leaves the host's resolv.conf; Docker mounts its own.
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    # Keep apt from installing documentation and recommends in images built on top.
    (root / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/dpkg/dpkg.cfg.d/01-mailsh-nodoc").write_text(
        "path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\n"
        "path-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n"
    )
