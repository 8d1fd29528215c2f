"""The interface every DNS provider implements (DESIGN §5).

Names are absolute without the trailing dot ("mail.example.org"). TXT values
are whole strings: providers split them into <= 255-byte character-strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

RecordType = Literal["A", "AAAA", "MX", "TXT", "CNAME", "PTR"]


@dataclass(frozen=True)
class Record:
    name: str
    rtype: RecordType
    values: tuple[str, ...]
    ttl: int = 300


class DnsProvider(Protocol):
    """Read current values, set (replace all values of a name and type), delete."""

    name: str

    def read(self, name: str, rtype: RecordType) -> tuple[str, ...]:
        """Current values as the authoritative server answers them (empty when none)."""
        ...

    def set(self, record: Record) -> None:
        """Replace every value of (record.name, record.rtype) with record.values."""
        ...

    def delete(self, name: str, rtype: RecordType) -> None:
        """Remove every value of (name, rtype); no error when there is none."""
        ...
