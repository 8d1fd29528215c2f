"""The `duckdns` provider: the DuckDNS HTTP API (https://www.duckdns.org/spec.jsp).

DuckDNS holds, per subname, one A, one AAAA and ONE TXT value, and answers
them for `<sub>.duckdns.org` and every name below it. It has no MX. So of
SPF, DKIM, DMARC, MTA-STS and TLS-RPT only one TXT can be published: the one
`[dns.duckdns] txt` chooses; `publishable()` says what the others cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import dns.resolver
import requests

from provision.config import secret
from provision.dns.authoritative import Server, find_nameservers, parse_servers, query_values
from provision.dns.provider import (
    Capabilities,
    Record,
    RecordType,
    Slot,
    Unpublishable,
    apply_in_sequence,
)
from provision.dns.settings import DuckDnsSettings
from provision.errors import DnsError
from provision.polling import retry

if TYPE_CHECKING:
    from provision.config import Settings

# One TXT for the name and all below it: ACME challenges go one at a time, and there is no MX.
CAPABILITIES = Capabilities(single_txt=True, serial_challenges=True, mx=False)

TxtChoice = str  # "spf" | "dkim" | "dmarc"

# What a receiver no longer gets when this TXT record is missing.
LOSSES = {
    "spf": "no SPF: receivers cannot check which hosts may send for the domain "
    "(DMARC can still pass through DKIM)",
    "dkim": "no DKIM key: signatures cannot be verified, and DMARC passes only through SPF",
    "dmarc": "no DMARC policy: receivers apply their own and send no reports",
    "mta-sts": "no MTA-STS: senders do not insist on TLS to this server",
    "tls-rpt": "no TLS-RPT: senders do not report TLS failures",
    "acme": "no ACME challenge",
    "txt": "this TXT record is not published",
}


def txt_kind(record: Record) -> str:
    """Which mail record a TXT record is, from its name and value (RFC naming)."""
    first = record.name.split(".", 1)[0]
    if first == "_dmarc":
        return "dmarc"
    if "._domainkey." in f".{record.name}.":
        return "dkim"
    if first == "_mta-sts":
        return "mta-sts"
    if record.name.startswith("_smtp._tls."):
        return "tls-rpt"
    if first == "_acme-challenge":
        return "acme"
    if any(v.startswith("v=spf1") for v in record.values):
        return "spf"
    return "txt"


class _Unavailable(DnsError):
    """DuckDNS could not be reached or failed (5xx): worth another try."""


class DuckDnsProvider:
    """Publish through the DuckDNS update API; read from the zone's authoritative servers."""

    name = "duckdns"
    capabilities = CAPABILITIES

    def __init__(
        self,
        domain: str,
        token: str,
        txt: TxtChoice = "dkim",
        api: str = "https://www.duckdns.org",
        zone: str = "duckdns.org",
        nameservers: Sequence[Server] = (),
        resolver: dns.resolver.Resolver | None = None,
        session: requests.Session | None = None,
        timeout: float = 15.0,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.zone = zone.rstrip(".").lower()
        self.subname = subname_of(domain, self.zone)
        self.txt = txt
        self.api = api.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self._token = token
        self._nameservers = list(nameservers)
        self._resolver = resolver
        self._session = session or requests.Session()
        self._sleep = sleep

    @classmethod
    def from_settings(
        cls,
        settings: DuckDnsSettings,
        domain: str,
        environ: Mapping[str, str],
        nameservers: Sequence[Server] = (),
    ) -> DuckDnsProvider:
        token = secret(settings.token_env, environ, "dns.duckdns.token_env")
        return cls(
            domain,
            token,
            settings.txt,
            settings.api,
            settings.zone,
            nameservers,
            timeout=settings.timeout_s,
            retries=settings.retries,
        )

    @classmethod
    def from_config(cls, settings: Settings, environ: Mapping[str, str]) -> DuckDnsProvider:
        servers = parse_servers(settings.dns.nameservers)
        return cls.from_settings(settings.dns.duckdns, settings.domain, environ, servers)

    @property
    def fqdn(self) -> str:
        return f"{self.subname}.{self.zone}"

    def _covers(self, name: str) -> bool:
        name = name.rstrip(".").lower()
        return name == self.fqdn or name.endswith(f".{self.fqdn}")

    def publishable(self, records: Sequence[Record]) -> tuple[list[Record], list[Unpublishable]]:
        """A/AAAA (one value, or none to delete), the chosen TXT; the rest with what the
        user loses."""
        keep: list[Record] = []
        drop: list[Unpublishable] = []
        txts = [r for r in records if r.rtype == "TXT" and self._covers(r.name)]
        chosen = next((r for r in txts if txt_kind(r) == self.txt), None)
        held = f"DuckDNS holds one TXT value for {self.fqdn} and every name below it"
        for r in records:
            if not self._covers(r.name):
                drop.append(Unpublishable(r, f"outside {self.fqdn}, the DuckDNS name"))
            elif r.rtype in ("A", "AAAA"):
                if len(r.values) > 1:
                    drop.append(Unpublishable(r, f"DuckDNS holds one {r.rtype} value"))
                elif any(k.rtype == r.rtype and k.values != r.values for k in keep):
                    drop.append(Unpublishable(r, f"DuckDNS holds one {r.rtype} for {self.fqdn}"))
                else:
                    keep.append(r)
            elif r.rtype == "MX":
                drop.append(
                    Unpublishable(
                        r,
                        "DuckDNS has no MX records; mail for the domain still reaches its "
                        "A address (implicit MX, RFC 5321 §5.1)",
                    )
                )
            elif r.rtype == "TXT" and r is chosen and len(r.values) == 1:
                keep.append(r)
            elif r.rtype == "TXT":
                kind = txt_kind(r)
                what = chosen and txt_kind(chosen).upper()
                drop.append(Unpublishable(r, f"{held} ({what or 'none chosen'}): {LOSSES[kind]}"))
            else:
                drop.append(Unpublishable(r, f"DuckDNS has no {r.rtype} records"))
        return keep, drop

    def read(self, name: str, rtype: RecordType) -> tuple[str, ...]:
        servers = self._servers()
        return query_values(name, rtype, servers[0], self.timeout)

    def set(self, record: Record) -> None:
        self._check(record.name)
        if record.rtype == "TXT":
            if len(record.values) != 1:
                raise DnsError(
                    f"duckdns: {record.name} needs {len(record.values)} TXT values; "
                    "DuckDNS holds exactly one"
                )
            self._update(txt=record.values[0])
        elif record.rtype in ("A", "AAAA") and len(record.values) == 1:
            self._update(**{"ip" if record.rtype == "A" else "ipv6": record.values[0]})
        else:
            raise DnsError(f"duckdns: cannot publish {record.rtype} {record.values}")

    def delete(self, name: str, rtype: RecordType) -> None:
        self._check(name)
        if rtype == "TXT":
            self._update(txt="", clear="true")
        elif rtype in ("A", "AAAA"):
            # DuckDNS clears both addresses at once: put back the one to keep.
            other: RecordType = "AAAA" if rtype == "A" else "A"
            kept = self.read(self.fqdn, other)
            self._update(clear="true")
            if kept:
                self.set(Record(self.fqdn, other, kept[:1]))
        else:
            raise DnsError(f"duckdns: has no {rtype} records to delete")

    def apply(self, records: Sequence[Record], expected: Mapping[Slot, tuple[str, ...]]) -> None:
        """DuckDNS has no transactions and no prerequisites: one call per record."""
        apply_in_sequence(self, records)

    def authenticate(self) -> None:
        """A call that changes nothing (the TXT set to what it is) proves the token."""
        current = self.read(self.fqdn, "TXT")
        if len(current) == 1:
            self._update(txt=current[0])
        else:
            self._update(txt="", clear="true")

    def _check(self, name: str) -> None:
        if not self._covers(name):
            raise DnsError(f"duckdns: {name} is not {self.fqdn} or below it")

    def _servers(self) -> list[Server]:
        if not self._nameservers:
            resolver = self._resolver or dns.resolver.Resolver()
            self._nameservers = find_nameservers(self.fqdn, resolver)
        return self._nameservers

    def _update(self, **params: str) -> list[str]:
        """One /update call with retries on network errors and 5xx; the verbose lines."""
        query = {"domains": self.subname, "token": self._token, **params, "verbose": "true"}

        def get() -> requests.Response:
            try:
                response = self._session.get(
                    f"{self.api}/update", params=query, timeout=self.timeout
                )
            except requests.RequestException as e:
                # The message of a requests error contains the URL, token included.
                raise _Unavailable(
                    f"duckdns: cannot reach {self.api}: {type(e).__name__}",
                    hint="check the network and [dns.duckdns] api",
                ) from None
            if response.status_code >= 500:
                raise _Unavailable(f"duckdns: {self.api} answered HTTP {response.status_code}")
            return response

        return self._parse(retry(get, self.retries + 1, _Unavailable, sleep=self._sleep))

    def _parse(self, response: requests.Response) -> list[str]:
        lines = response.text.strip().splitlines()
        if response.status_code == 200 and lines and lines[0].strip() == "OK":
            return [line.strip() for line in lines[1:]]
        if lines and lines[0].strip() == "KO":
            raise DnsError(
                f"duckdns: the update of {self.subname} was refused (KO)",
                hint=f"check the token in the environment and that {self.subname} "
                "belongs to its account",
            )
        raise DnsError(
            f"duckdns: unexpected answer from {self.api} "
            f"(HTTP {response.status_code}: {response.text[:60]!r})"
        )


def secret_env(settings: Settings) -> str:
    """The environment variable holding the DuckDNS token."""
    return settings.dns.duckdns.token_env


def renewer_zone(settings: Settings) -> dict[str, object] | None:
    """What the server's own renewer needs to publish challenges (never the token)."""
    d = settings.dns.duckdns
    subname = subname_of(settings.domain, d.zone)
    return {"provider": "duckdns", "api": d.api, "subname": subname, "timeout_s": d.timeout_s}


def subname_of(domain: str, zone: str) -> str:
    """The DuckDNS name of `domain` (myhost of myhost.duckdns.org), or a DnsError."""
    domain, zone = domain.rstrip(".").lower(), zone.rstrip(".").lower()
    sub = domain.removesuffix(f".{zone}")
    if sub == domain or "." in sub or not sub:
        raise DnsError(
            f"duckdns: domain {domain} is not <name>.{zone}",
            hint=f"set domain to your DuckDNS name, like myhost.{zone}",
        )
    return sub
