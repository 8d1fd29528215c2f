"""Atomic writes for files that matter (keys, certificates, rendered configs)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


def write_atomic(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Write `data` to `path` through a temp file and a rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def update_file(path: Path, data: bytes | str, mode: int = 0o644) -> bytes:
    """`write_atomic`, only when `path` does not hold `data` already; the bytes."""
    raw = data.encode() if isinstance(data, str) else data
    if not path.exists() or path.read_bytes() != raw:
        write_atomic(path, raw, mode)
    return raw


def ensure_private_key(
    path: Path,
    generate: Callable[[], PrivateKeyTypes],
    private_format: serialization.PrivateFormat,
) -> tuple[PrivateKeyTypes, bool]:
    """Load the PEM key at `path`, or generate it once and keep it (0600, folder 0700).

    Returns the key and whether it was created now; ValueError when the file is not
    a readable key (callers say what losing it would cost).
    """
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None), False
    key = generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, private_format, serialization.NoEncryption()
    )
    write_atomic(path, pem, mode=0o600)
    path.parent.chmod(0o700)
    return key, True
