"""The user's OpenPGP keys (`invoke keygen`, `invoke trust`): create, export, find the
one to sign with, and make the server trust a public key.

Everything here works on the user's own GnuPG home (GNUPGHOME or ~/.gnupg).
"""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path

import gnupg

from provision.config import Settings
from provision.config_edit import config_with_key
from provision.config_types import email_address
from provision.errors import ClientError
from provision.files import write_atomic
from provision.state import StateDir


def user_gpg(home: str | None = None) -> gnupg.GPG:
    return gnupg.GPG(gnupghome=home)


def keygen(
    gpg: gnupg.GPG, name: str, email: str, rsa: bool = False, passphrase: str | None = None
) -> str:
    """A new signing key (ed25519 + cv25519, or RSA 4096 as in the original); its fingerprint."""
    if not name.strip():
        raise ClientError("--name is empty: give the name the key's user ID shows")
    try:
        email = email_address(email.strip())
    except ValueError as e:
        raise ClientError(f"--email: {e}", hint="replies go to this address") from None
    params: dict[str, object] = {"name_real": name.strip(), "name_email": email, "expire_date": 0}
    if rsa:
        params |= {
            "key_type": "RSA",
            "key_length": 4096,
            "subkey_type": "RSA",
            "subkey_length": 4096,
        }
    else:
        params |= {
            "key_type": "EDDSA",
            "key_curve": "ed25519",
            "key_usage": "sign",
            "subkey_type": "ECDH",
            "subkey_curve": "cv25519",
            "subkey_usage": "encrypt",
        }
    if passphrase:
        params["passphrase"] = passphrase
    else:
        params["no_protection"] = True
    result = gpg.gen_key(gpg.gen_key_input(**params))
    if not result.fingerprint:
        raise ClientError(f"gpg could not create the key: {result.stderr.strip()[-200:]}")
    return str(result.fingerprint)


def export_public(gpg: gnupg.GPG, fingerprint: str, path: Path) -> Path:
    write_atomic(path, str(gpg.export_keys(fingerprint)))
    return path


def key_fingerprint(gpg: gnupg.GPG, path: Path) -> str:
    """The one primary key in a public key file."""
    if not path.is_file():
        raise ClientError(
            f"{path}: no such file", hint="export the key with `gpg --armor --export FPR > key.asc`"
        )
    try:
        keys = gpg.scan_keys(str(path))
    except OSError as e:
        raise ClientError(f"{path}: cannot read: {e}") from None
    primaries = [k["fingerprint"] for k in keys if k.get("type") == "pub"]
    if len(primaries) != 1:
        raise ClientError(
            f"{path}: expected one public key, found {len(primaries)}",
            hint="export exactly one key with `gpg --armor --export FPR`",
        )
    return str(primaries[0])


def trust(settings: Settings, config_path: Path, key_file: Path, gpg: gnupg.GPG) -> str:
    """Store the public key in the state's trusted keys and list it in the config."""
    fingerprint = key_fingerprint(gpg, key_file)
    old = config_path.read_text() if config_path.exists() else ""
    updated = config_with_key(old, fingerprint, str(config_path))
    state = StateDir(settings.state_dir.resolve())
    state.ensure()
    write_atomic(state.trusted_dir / f"{fingerprint}.asc", key_file.read_bytes())
    if updated != old:
        write_atomic(config_path, updated)
    return fingerprint


def signing_key(gpg: gnupg.GPG, wanted: str | None) -> tuple[str, str]:
    """The fingerprint and first e-mail address of the secret key to sign with."""
    keys = gpg.list_keys(secret=True)
    if wanted:
        keys = [
            k
            for k in keys
            if wanted.upper() in (k["fingerprint"], k["keyid"])
            or any(wanted.lower() in uid.lower() for uid in k["uids"])
        ]
    if len(keys) != 1:
        raise ClientError(
            f"{len(keys)} secret keys match {wanted or '(any)'}",
            hint="set [client] key in mailsh.toml or pass --key FINGERPRINT",
        )
    addresses = [parseaddr(uid)[1] for uid in keys[0]["uids"] if "@" in uid]
    if not addresses:
        raise ClientError(f"key {keys[0]['fingerprint']} has no e-mail address in its user IDs")
    return str(keys[0]["fingerprint"]), addresses[0]
