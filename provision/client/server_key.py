"""The server's own OpenPGP key (`invoke server-key`): encrypted requests and replies.

Generated once on the host into the state directory (secret half 0600) and
imported into the handler's keyring when the container installs its config.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import gnupg

from provision.errors import MailshError
from provision.files import write_atomic
from provision.state import StateDir


@dataclass(frozen=True)
class ServerKey:
    fingerprint: str
    public: str


def key_dir(state: StateDir) -> Path:
    return state.root / "server-key"


def load_server_key(state: StateDir) -> ServerKey | None:
    public = key_dir(state) / "public.asc"
    if not public.exists():
        return None
    fingerprint = (key_dir(state) / "fingerprint").read_text().strip()
    return ServerKey(fingerprint, public.read_text())


def ensure_server_key(state: StateDir, recipient: str) -> tuple[ServerKey, bool]:
    """The existing server key, or a new ed25519/cv25519 one; and whether it was created."""
    existing = load_server_key(state)
    if existing is not None:
        return existing, False
    with tempfile.TemporaryDirectory(prefix="mailsh-server-key-") as home:
        gpg = gnupg.GPG(gnupghome=home)
        spec = gpg.gen_key_input(
            name_real="mailsh server",
            name_email=recipient,
            key_type="EDDSA",
            key_curve="ed25519",
            key_usage="sign",
            subkey_type="ECDH",
            subkey_curve="cv25519",
            subkey_usage="encrypt",
            expire_date=0,
            no_protection=True,
        )
        result = gpg.gen_key(spec)
        if not result.fingerprint:
            raise MailshError(f"gpg could not create the server key: {result.stderr[-200:]}")
        fingerprint = str(result.fingerprint)
        secret = str(gpg.export_keys(fingerprint, secret=True, expect_passphrase=False))
        public = str(gpg.export_keys(fingerprint))
    directory = key_dir(state)
    write_atomic(directory / "secret.asc", secret, mode=0o600)
    write_atomic(directory / "public.asc", public)
    write_atomic(directory / "fingerprint", fingerprint + "\n")
    return ServerKey(fingerprint, public), True
