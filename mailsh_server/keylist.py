"""Parse `gpg --with-colons --fixed-list-mode --list-keys` into what the request rules need (pure).

python-gnupg's listing drops the validity of user IDs and subkeys, and the
rules need both: a revoked user ID is no reply address, and a signature by a
revoked or expired subkey is refused even when gpg calls it good.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr

_UNUSABLE = {"r": "revoked", "e": "expired", "i": "invalid", "d": "disabled"}


@dataclass(frozen=True)
class KeyInfo:
    """One primary key: its usable user-ID addresses and the state of it and its subkeys."""

    fingerprint: str
    problem: str | None
    addresses: tuple[str, ...]
    subkeys: dict[str, str | None] = field(default_factory=dict)

    def signing_problem(self, signing_fingerprint: str) -> str | None:
        """Why a signature by this key (or one of its subkeys) cannot count, or None."""
        if self.problem:
            return f"the signing key is {self.problem}"
        if signing_fingerprint == self.fingerprint:
            return None
        if signing_fingerprint not in self.subkeys:
            return f"{signing_fingerprint} is not a subkey of {self.fingerprint}"
        sub = self.subkeys[signing_fingerprint]
        return f"the signing subkey is {sub}" if sub else None


def _address(uid: str) -> str | None:
    address = parseaddr(uid)[1].lower()
    return address if "@" in address else None


def _unescape(value: str) -> str:
    """gpg's colon listings escape ':' and control bytes as \\xNN."""
    out, i = [], 0
    while i < len(value):
        if value.startswith("\\x", i) and i + 4 <= len(value):
            try:
                out.append(chr(int(value[i + 2 : i + 4], 16)))
                i += 4
                continue
            except ValueError:
                pass
        out.append(value[i])
        i += 1
    return "".join(out)


@dataclass
class _Building:
    validity: str
    fingerprint: str = ""
    addresses: list[str] = field(default_factory=list)
    subkeys: dict[str, str | None] = field(default_factory=dict)

    def done(self) -> KeyInfo:
        problem = _UNUSABLE.get(self.validity)
        return KeyInfo(self.fingerprint, problem, tuple(self.addresses), self.subkeys)


def parse_listing(listing: str) -> dict[str, KeyInfo]:
    """Every primary key in the listing, by fingerprint."""
    built: list[_Building] = []
    record = ""  # the pub/sub record the next fpr line belongs to
    validity = ""
    for line in listing.split("\n"):
        fields = line.split(":")
        kind = fields[0]
        if kind == "pub":
            built.append(_Building(fields[1]))
            record = "pub"
        elif not built or (len(fields) < 10 and kind in ("fpr", "uid")):
            continue
        elif kind == "sub":
            record, validity = "sub", fields[1]
        elif kind == "fpr" and record == "pub":
            built[-1].fingerprint, record = fields[9], ""
        elif kind == "fpr" and record == "sub":
            built[-1].subkeys[fields[9]], record = _UNUSABLE.get(validity), ""
        elif kind == "uid" and fields[1] not in _UNUSABLE:
            address = _address(_unescape(fields[9]))
            if address:
                built[-1].addresses.append(address)
    return {b.fingerprint: b.done() for b in built if b.fingerprint}
