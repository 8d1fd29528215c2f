"""Write records into the lab BIND: TSIG-signed updates, temporary changes, DNSBL listings."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import dns.query
import dns.resolver
import dns.tsigkeyring
import dns.update

from provision.deliverability.lookup import reversed_labels
from tests.lab.bind import DNSBL_ZONE, LabDns

Records = Mapping[tuple[str, str], Iterable[str]]


def txt(value: str) -> str:
    """A TXT rdata in zone-file syntax, split into 255-byte strings (DKIM keys are longer)."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join(f'"{c}"' for c in chunks)


@dataclass
class LabZones:
    """Replace and delete records in the lab BIND with TSIG-signed updates."""

    lab_dns: LabDns

    def _zone(self, name: str) -> str:
        zones = [z for z in self.lab_dns.zones if name == z or name.endswith("." + z)]
        assert zones, f"{name} is in none of the lab zones {self.lab_dns.zones}"
        return max(zones, key=len)

    def apply(self, replace: Records | None = None, delete: Iterable[tuple[str, str]] = ()) -> None:
        keyring = dns.tsigkeyring.from_text({self.lab_dns.tsig_name: self.lab_dns.tsig_secret})
        updates: dict[str, dns.update.UpdateMessage] = {}

        def update(name: str) -> tuple[dns.update.UpdateMessage, str]:
            zone = self._zone(name)
            msg = updates.setdefault(
                zone,
                dns.update.UpdateMessage(
                    zone, keyring=keyring, keyalgorithm=self.lab_dns.tsig_algorithm
                ),
            )
            relative = name[: -len(zone)].rstrip(".") or "@"
            return msg, relative

        for name, rdtype in delete:
            msg, rel = update(name)
            msg.delete(rel, rdtype)
        for (name, rdtype), values in (replace or {}).items():
            msg, rel = update(name)
            msg.delete(rel, rdtype)
            for value in values:
                msg.add(rel, 60, rdtype, value)
        for msg in updates.values():
            response = dns.query.tcp(msg, self.lab_dns.host, port=self.lab_dns.port, timeout=5)
            assert response.rcode() == 0, response

    def current(self, name: str, rdtype: str) -> list[str]:
        """The rdatas at name/rdtype in zone-file syntax (empty when none)."""
        try:
            answer = self.lab_dns.resolver().resolve(name, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        return [r.to_text() for r in answer]

    @contextmanager
    def changed(
        self, replace: Records | None = None, delete: Iterable[tuple[str, str]] = ()
    ) -> Iterator[None]:
        """Apply a change for the duration of a `with` block, then put the old records back."""
        replace = replace or {}
        keys = [*replace, *delete]
        saved = {key: self.current(*key) for key in keys}
        self.apply(replace, delete)
        try:
            yield
        finally:
            self.apply(
                {k: v for k, v in saved.items() if v}, [k for k, v in saved.items() if not v]
            )

    def list_ip(self, ip: str, code: str = "127.0.0.2") -> None:
        self.apply({(f"{reversed_labels(ip)}.{DNSBL_ZONE}", "A"): [code]})

    def unlist_ip(self, ip: str) -> None:
        self.apply(delete=[(f"{reversed_labels(ip)}.{DNSBL_ZONE}", "A")])
