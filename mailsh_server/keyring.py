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


class Keyring:
    """A GnuPG home holding only trusted public keys (and the server's own key, if any)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._gpg = gnupg.GPG(gnupghome=str(home), options=OPTIONS)

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
        keys = self._gpg.list_keys(keys=[fingerprint])
        uids = [uid for key in keys if key["fingerprint"] == fingerprint for uid in key["uids"]]
        return [parseaddr(uid)[1].lower() for uid in uids if "@" in parseaddr(uid)[1]]

    def encrypt_to(self, data: bytes, fingerprint: str) -> bytes:
        result = self._gpg.encrypt(data, [fingerprint], always_trust=True, armor=True)
        if not result.ok:
            raise RuntimeError(f"cannot encrypt the reply: {result.status}")
        return bytes(result.data)
