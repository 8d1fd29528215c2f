"""Build mailsh's image through the Docker SDK (the offline base image: `base_image.py`)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.images import Image

from provision.base_image import LOCAL_BASE
from provision.digest import content_hash
from provision.errors import DockerError
from provision.render import render_dockerfile

# What runs in the container: the server, and the ACME client it renews with.
SERVER_PACKAGES = tuple(
    Path(__file__).resolve().parent.parent / name for name in ("mailsh_server", "mailsh_acme")
)
DEFAULT_BASE = "debian:bookworm-slim"
LABEL_INPUTS = "org.mailsh.inputs"

Progress = Callable[[str], None]
# What of the packages goes into the image: code and the type marker.
SERVER_SUFFIXES = (".py", ".typed")


def _server_files() -> Iterator[tuple[str, bytes]]:
    for package in SERVER_PACKAGES:
        for path in sorted(package.rglob("*")):
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and path.suffix in SERVER_SUFFIXES
            ):
                name = f"{package.name}/{path.relative_to(package).as_posix()}"
                yield name, path.read_bytes()


def build_context(dockerfile: str) -> tuple[bytes, str]:
    """The build context as a tar archive, and the hash of everything in it."""
    files = [("Dockerfile", dockerfile.encode()), *_server_files()]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), content_hash(files)


def _local_image(client: docker.DockerClient, ref: str) -> Image | None:
    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as e:
        raise DockerError(f"cannot inspect image {ref}: {e.explanation}") from None


def resolve_base(client: docker.DockerClient, base: str, progress: Progress) -> Image:
    """The base image: local if present, else pulled; offline, the debootstrap-built one."""
    image = _local_image(client, base)
    if image is not None:
        return image
    if base == DEFAULT_BASE:
        # A machine where `invoke base-image` was run has no registry: don't try one.
        local = _local_image(client, LOCAL_BASE)
        if local is not None:
            return local
    progress(f"pulling {base}")
    try:
        return client.images.pull(base)
    except docker.errors.DockerException as e:
        pull_error = str(e).splitlines()[0]
    raise DockerError(
        f"base image {base} is not here and cannot be pulled ({pull_error})",
        hint=f"offline, run `invoke base-image` and set [image] base = {LOCAL_BASE!r}",
    )


def ensure_image(
    client: docker.DockerClient, base: str, name: str, progress: Progress, no_cache: bool = False
) -> tuple[Image, bool]:
    """Build the server image unless one built from the same inputs exists.

    Returns the image and whether it was built now.
    """
    base_image = resolve_base(client, base, progress)
    base_ref = base if base_image.tags and base in base_image.tags else base_image.id
    context, files_hash = build_context(render_dockerfile(base_ref))
    inputs = content_hash([("files", files_hash.encode()), ("base", base_image.id.encode())])
    tag = f"{name}:{inputs[:12]}"
    existing = _local_image(client, tag)
    if existing is not None and existing.labels.get(LABEL_INPUTS) == inputs and not no_cache:
        return existing, False
    progress(f"building image {tag}")
    _stream_build(client, context, tag, {LABEL_INPUTS: inputs}, progress, no_cache)
    image = _local_image(client, tag)
    if image is None:
        raise DockerError(f"the build of {tag} reported success but the image is missing")
    return image, True


def _stream_build(
    client: docker.DockerClient,
    context: bytes,
    tag: str,
    labels: dict[str, str],
    progress: Progress,
    no_cache: bool,
) -> None:
    tail: list[str] = []
    try:
        stream = client.api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            tag=tag,
            labels=labels,
            rm=True,
            forcerm=True,
            decode=True,
            nocache=no_cache,
        )
        for chunk in stream:
            if "error" in chunk:
                detail = "\n".join(tail[-8:])
                raise DockerError(f"image build failed: {chunk['error'].strip()}\n{detail}")
            line = str(chunk.get("stream", "")).rstrip()
            if line:
                tail.append(line)
                if line.startswith("Step "):
                    progress(line)
    except docker.errors.APIError as e:
        raise DockerError(f"image build failed: {e.explanation}") from None


def image_size(image: Image) -> int:
    size: Any = image.attrs.get("Size", 0)
    return int(size)
