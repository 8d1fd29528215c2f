"""Build the handler's keyring from the state volume: exactly the configured trusted keys.

`invoke trust` stores each public key as trusted/<FINGERPRINT>.asc; the
rendered server.json lists the fingerprints in force. A new GnuPG home is
built next to the old one and swapped in through a symlink, so a running
handler never sees a half-built keyring.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from mailsh_server.keylist import parse_listing
from mailsh_server.protocol import HANDLER_USER


def _gpg(home: Path, *args: str) -> str:
    done = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--quiet", "--no-autostart", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _chown_tree(root: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for path in [root, *root.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _import_secret(home: Path, secret_key: Path) -> None:
    """The server's own key (`invoke server-key`): importing a secret key needs gpg-agent."""
    subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--quiet", "--import", str(secret_key)],
        capture_output=True,
        check=True,
    )
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
    for socket in home.glob("S.*"):
        socket.unlink()


def build_keyring(
    trusted_dir: Path, fingerprints: list[str], server_dir: Path, secret_key: Path | None = None
) -> Path:
    """Install a keyring with exactly `fingerprints` (and the server's own key, if any)
    as server_dir/gnupg; returns its path."""
    files = sorted(trusted_dir / f"{fpr}.asc" for fpr in fingerprints)
    present = [f for f in files if f.exists()]
    own = secret_key if secret_key is not None and secret_key.exists() else None
    digest = hashlib.sha256(
        b"".join(f.read_bytes() for f in [*present, *([own] if own else [])])
    ).hexdigest()[:16]
    home = server_dir / f"gnupg-{digest}"
    if not home.exists():
        building = server_dir / f".gnupg-{digest}.new"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(mode=0o700)
        for f in present:
            _gpg(building, "--import", str(f))
        listing = _gpg(building, "--with-colons", "--fixed-list-mode", "--list-keys")
        for extra in set(parse_listing(listing)) - set(fingerprints):
            _gpg(building, "--yes", "--delete-keys", extra)
        if own is not None:
            _import_secret(building, own)
        _chown_tree(building, HANDLER_USER)
        building.rename(home)
    link = server_dir / "gnupg"
    tmp_link = server_dir / ".gnupg.link"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(home.name)
    os.replace(tmp_link, link)
    for old in server_dir.glob("gnupg-*"):
        if old != home:
            shutil.rmtree(old, ignore_errors=True)
    return home
