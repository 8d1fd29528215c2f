"""The interface every DNS provider implements (docs/ARCHITECTURE.md §5).

Names are absolute without the trailing dot ("mail.example.org"). TXT values
are whole strings: providers split them into <= 255-byte character-strings
(`txt_strings`). Other values are in presentation format as dnspython writes
them ("192.0.2.1", "10 mail.example.org.").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from provision.errors import DnsError

RecordType = Literal["A", "AAAA", "MX", "TXT", "CNAME", "PTR"]
Slot = tuple[str, RecordType]

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


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do; callers ask these, never the provider's name.

    `single_txt`: one TXT value (and one address) answers for the name and every
    name below it (DuckDNS). `serial_challenges`: ACME challenges must go one at a
    time. `mx`: MX records can be published. `atomic`: every change of a run goes
    in one transaction with prerequisites. `manual`: nothing is published through
    an API; the user adds the printed zone fragment.
    """

    single_txt: bool = False
    serial_challenges: bool = False
    mx: bool = True
    atomic: bool = False
    manual: bool = False


class ZoneChanged(DnsError):
    """The zone no longer holds what was read: the update was refused as a whole."""


class DnsProvider(Protocol):
    """Read current values, set (replace all values of a name and type), delete, apply a
    whole set of changes, and prove the credentials."""

    name: str
    capabilities: Capabilities

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

    def apply(self, records: Sequence[Record], expected: Mapping[Slot, tuple[str, ...]]) -> None:
        """Replace each (name, type) with its record's values (none: delete it). An atomic
        provider sends it all at once, only if the zone still holds `expected` (else
        ZoneChanged); the others in sequence."""
        ...

    def authenticate(self) -> None:
        """Prove the credentials without changing anything; DnsError when refused."""
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


def apply_in_sequence(provider: DnsProvider, records: Sequence[Record]) -> None:
    """`apply` for providers without transactions: one call per record."""
    for record in records:
        if record.values:
            provider.set(record)
        else:
            provider.delete(record.name, record.rtype)
