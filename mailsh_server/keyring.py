"""The server's trusted keyring: GnuPG through python-gnupg (Debian's 0.4.9 API).

Only this module runs gpg. It returns gpg's raw status text and the signed
bytes; `gpgstatus` and `verify` decide what they mean.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

import gnupg

from mailsh_server.message import Payload

# python-gnupg logs a warning for every non-zero gpg exit (any bad signature).
logging.getLogger("gnupg").setLevel(logging.ERROR)


# The handler only reads this keyring: no lock files (concurrent requests would
# queue on them), no trust database, never a key fetched from the network.
OPTIONS = ["--no-auto-key-retrieve", "--trust-model", "always", "--lock-never"]


@dataclass(frozen=True)
class GpgOutput:
    status: str
    data: bytes


def _addresses_of(keys: list[dict[str, object]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for key in keys:
        uids = key["uids"]
        assert isinstance(uids, list)
        found = [parseaddr(uid)[1].lower() for uid in uids]
        result[str(key["fingerprint"])] = [a for a in found if "@" in a]
    return result


class Keyring:
    """A GnuPG home holding only trusted public keys (and the server's own key, if any)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._gpg = gnupg.GPG(gnupghome=str(home), options=OPTIONS)
        self._addresses: tuple[str, dict[str, list[str]]] | None = None

    def verify(self, payload: Payload) -> GpgOutput:
        """Run gpg on the payload; its status lines and the bytes it says are signed."""
        if payload.kind == "detached":
            assert payload.signature is not None
            fd, sig_path = tempfile.mkstemp(prefix="sig-", dir=self.home)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(payload.signature)
                result = self._gpg.verify_data(sig_path, payload.data)
            finally:
                os.unlink(sig_path)
            return GpgOutput(result.stderr or "", payload.data)
        result = self._gpg.decrypt(payload.data, always_trust=True)
        return GpgOutput(result.stderr or "", result.data or b"")

    def has_secret_key(self) -> bool:
        return bool(self._gpg.list_keys(secret=True))

    def addresses(self, fingerprint: str) -> list[str]:
        """The e-mail addresses in the key's user IDs."""
        return list(self.address_map().get(fingerprint, []))

    def address_map(self) -> dict[str, list[str]]:
        """Every key's user-ID addresses, listed once per keyring version.

        `build_keyring` swaps `home` (a symlink) to a new content-named directory
        whenever the keys change, so the link target identifies the contents. It
        is read before listing: a swap in between only causes one more listing.
        The resident handler calls this before forking, so its children inherit it.
        """
        version = os.path.realpath(self.home)
        if self._addresses is None or self._addresses[0] != version:
            self._addresses = (version, _addresses_of(self._gpg.list_keys()))
        return self._addresses[1]

    def encrypt_to(self, data: bytes, fingerprint: str) -> bytes:
        result = self._gpg.encrypt(data, [fingerprint], always_trust=True, armor=True)
        if not result.ok:
            raise RuntimeError(f"cannot encrypt the reply: {result.status}")
        return bytes(result.data)
