"""The interface every DNS provider implements (DESIGN §5).

Names are absolute without the trailing dot ("mail.example.org"). TXT values
are whole strings: providers split them into <= 255-byte character-strings
(`txt_strings`). Other values are in presentation format as dnspython writes
them ("192.0.2.1", "10 mail.example.org.").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

RecordType = Literal["A", "AAAA", "MX", "TXT", "CNAME", "PTR"]

TXT_STRING_MAX = 255


@dataclass(frozen=True)
class Record:
    name: str
    rtype: RecordType
    values: tuple[str, ...]
    ttl: int = 300


@dataclass(frozen=True)
class Unpublishable:
    """A desired record the provider cannot publish, and why (said plainly to the user)."""

    record: Record
    reason: str


class DnsProvider(Protocol):
    """Read current values, set (replace all values of a name and type), delete."""

    name: str

    def publishable(self, records: Sequence[Record]) -> tuple[list[Record], list[Unpublishable]]:
        """Split `records` into those this provider can publish together and the rest."""
        ...

    def read(self, name: str, rtype: RecordType) -> tuple[str, ...]:
        """Current values as the authoritative server answers them (empty when none)."""
        ...

    def set(self, record: Record) -> None:
        """Replace every value of (record.name, record.rtype) with record.values."""
        ...

    def delete(self, name: str, rtype: RecordType) -> None:
        """Remove every value of (name, rtype); no error when there is none."""
        ...


def txt_strings(value: str) -> tuple[bytes, ...]:
    """Split a TXT value into the <= 255-byte character-strings of one record.

    Resolvers concatenate them without separator (RFC 7208 §3.3, RFC 6376
    §3.6.2.2), so the split points carry no meaning; values here are ASCII.
    """
    raw = value.encode()
    if not raw:
        return (b"",)
    return tuple(raw[i : i + TXT_STRING_MAX] for i in range(0, len(raw), TXT_STRING_MAX))


def all_publishable(records: Sequence[Record]) -> tuple[list[Record], list[Unpublishable]]:
    """For providers that can hold any set of records."""
    return list(records), []
