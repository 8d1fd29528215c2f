"""The server's trusted keyring: the only place gpg runs on a request.

Verification and decryption go through `mailsh_server.gpg` (status on a pipe
of its own, bounded output and resources); `gpgstatus` reads the verdict and
`verify` applies the rules. The keys' states and user-ID addresses come from
a colon listing (`keylist`), read once per keyring version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mailsh_server.gpg import GpgRun, GpgUnavailable, run_gpg
from mailsh_server.gpgstatus import SignatureStatus, created_signature_micalg, signature_status
from mailsh_server.keylist import KeyInfo, parse_listing
from mailsh_server.message import Payload

LISTING_MAX = 16 * 2**20


@dataclass(frozen=True)
class Verification:
    """gpg's verdict on a payload, and the bytes it covers (empty unless valid)."""

    status: SignatureStatus
    signed: bytes


def _died_at_start(run: GpgRun) -> bool:
    return run.returncode != 0 and not run.status and not run.timed_out


class Keyring:
    """A GnuPG home holding only trusted public keys (and the server's own key, if any)."""

    def __init__(self, home: Path, max_output: int = 4 * 2**20) -> None:
        self.home = home
        self.max_output = max_output
        self._keys: tuple[str, dict[str, KeyInfo]] | None = None
        self._own: tuple[str, str | None] | None = None

    def _run(self, args: list[str], data: bytes, signature: bytes | None = None) -> Verification:
        run = run_gpg(self.home, args, data, self.max_output, signature=signature)
        if _died_at_start(run):
            # gpg says something on its status channel about any input, even garbage:
            # silence means it failed on its own. Once more; twice is the data's fault.
            run = run_gpg(self.home, args, data, self.max_output, signature=signature)
        status = signature_status(run.status, run.returncode)
        if _died_at_start(run):
            status = SignatureStatus(
                False,
                f"gpg could not read the data (damaged armor or packets, exit {run.returncode})",
            )
        elif run.timed_out:
            status = SignatureStatus(False, "gpg took too long on this data")
        elif run.status_exceeded:
            status = SignatureStatus(False, "gpg's status channel overflowed")
        elif run.output_exceeded:
            status = SignatureStatus(False, f"the signed data is over {self.max_output} bytes")
        signed = run.output if status.valid or status.decrypted else b""
        return Verification(status, signed)

    def verify(self, payload: Payload) -> Verification:
        """Check the payload's one signature; the signed bytes when it is good."""
        if payload.kind == "detached":
            assert payload.signature is not None
            result = self._run(["--verify", "--", "{sig}", "-"], payload.data, payload.signature)
            return Verification(result.status, payload.data if result.status.valid else b"")
        return self._run(["--decrypt"], payload.data)

    def decrypt(self, payload: Payload) -> Verification:
        """Open an encrypted payload (which may carry its own signature)."""
        return self._run(["--decrypt"], payload.data)

    def has_secret_key(self) -> bool:
        return self.own_key() is not None

    def own_key(self) -> str | None:
        """The fingerprint of the server's own key (`invoke server-key`), listed once per
        keyring version (see `keys`)."""
        version = os.path.realpath(self.home)
        if self._own is None or self._own[0] != version:
            self._own = (version, own_fingerprint(self._gpg_list("--list-secret-keys")))
        return self._own[1]

    def sign_detached(self, data: bytes) -> tuple[bytes, str]:
        """An armored detached signature by the server's own key, and its RFC 3156 micalg."""
        own = self.own_key()
        if own is None:
            raise RuntimeError("this server has no key of its own")
        args = ["--armor", "--detach-sign", "--digest-algo", "SHA256", "--local-user", own]
        run = run_gpg(self.home, args, data, max_output=65536)
        micalg = created_signature_micalg(run.status)
        if run.returncode != 0 or micalg is None or run.timed_out or run.output_exceeded:
            raise RuntimeError(f"gpg could not sign: {run.stderr.decode(errors='replace')}")
        return run.output, micalg

    def _gpg_list(self, what: str) -> str:
        run = run_gpg(self.home, ["--with-colons", "--fixed-list-mode", what], b"", LISTING_MAX)
        if run.timed_out or run.output_exceeded:
            raise GpgUnavailable(f"cannot list the keyring {self.home}")
        return run.output.decode("utf-8", "replace")

    def keys(self) -> dict[str, KeyInfo]:
        """Every trusted key, listed once per keyring version.

        `build_keyring` swaps `home` (a symlink) to a new content-named directory
        whenever the keys change, so the link target identifies the contents. It
        is read before listing: a swap in between only causes one more listing.
        The resident handler calls this before forking, so its children inherit it.
        """
        version = os.path.realpath(self.home)
        if self._keys is None or self._keys[0] != version:
            self._keys = (version, parse_listing(self._gpg_list("--list-keys")))
        return self._keys[1]

    def addresses(self, fingerprint: str) -> list[str]:
        """The addresses in the key's valid (not revoked) user IDs."""
        key = self.keys().get(fingerprint)
        return list(key.addresses) if key else []

    def encrypt_to(self, data: bytes, fingerprint: str) -> bytes:
        """`data` encrypted to `fingerprint`, and signed by the server's own key in the same
        OpenPGP message (RFC 3156 §6.2) when it has one."""
        own = self.own_key()
        sign = ["--sign", "--digest-algo", "SHA256", "--local-user", own] if own else []
        run = run_gpg(
            self.home,
            ["--armor", *sign, "--encrypt", "--recipient", fingerprint],
            data,
            max_output=4 * len(data) + 65536,
        )
        if run.returncode != 0:
            raise RuntimeError(f"cannot encrypt the reply: {run.stderr.decode(errors='replace')}")
        return run.output


def own_fingerprint(listing: str) -> str | None:
    """The primary fingerprint of the first secret key in a colon listing."""
    secret = False
    for line in listing.split("\n"):
        fields = line.split(":")
        if fields[0] == "sec":
            secret = True
        elif fields[0] == "fpr" and secret and len(fields) > 9:
            return fields[9]
        elif fields[0] in ("ssb", "uid"):
            secret = False
    return None
