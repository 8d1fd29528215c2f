"""The `rfc2136` provider: dynamic updates (RFC 2136) signed with TSIG (RFC 8945).

Works with any server that accepts them: BIND, Knot, PowerDNS. Reads ask the
same primary directly, so a read right after an update sees it. A run's changes
go in ONE update message whose prerequisites (RFC 2136 §2.4) are the values
read: the server applies all of it or nothing, and the SOA serial moves once.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataset
import dns.tsig
import dns.tsigkeyring
import dns.update

from provision.config import secret
from provision.dns.authoritative import (
    Server,
    connection_failure,
    make_rdata,
    query_values,
    server_address,
)
from provision.dns.provider import (
    Capabilities,
    Record,
    RecordType,
    Slot,
    Unpublishable,
    ZoneChanged,
    all_publishable,
)
from provision.dns.settings import Rfc2136Settings
from provision.errors import ConfigError, DnsError

if TYPE_CHECKING:
    from provision.config import Settings

CAPABILITIES = Capabilities(atomic=True)

# The prerequisites failed: the zone changed between read and write (RFC 2136 §3.2.5).
_PREREQUISITE_RCODES = frozenset(
    {dns.rcode.NXDOMAIN, dns.rcode.YXDOMAIN, dns.rcode.NXRRSET, dns.rcode.YXRRSET}
)

_RCODE_HINTS = {
    dns.rcode.NOTAUTH: "the server is not authoritative for the zone or refused the TSIG key",
    dns.rcode.REFUSED: "the server's allow-update / update-policy does not allow this key",
    dns.rcode.NOTZONE: "the name is outside the zone",
    dns.rcode.SERVFAIL: "see the server's log",
}


class Rfc2136Provider:
    """Read, set and delete records in `zone` on `server` with one TSIG key."""

    name = "rfc2136"
    capabilities = CAPABILITIES

    def __init__(
        self,
        server: str,
        port: int,
        zone: str,
        key_name: str,
        key_secret: str,
        key_algorithm: str = "hmac-sha256",
        timeout: float = 10.0,
    ) -> None:
        self.host = server
        self.port = port
        self.zone = dns.name.from_text(zone)
        self.key_name = key_name
        self.timeout = timeout
        self._algorithm = dns.name.from_text(key_algorithm)
        try:
            self._keyring = dns.tsigkeyring.from_text({key_name: key_secret})
        except (binascii.Error, ValueError) as e:
            raise ConfigError(
                f"dns.rfc2136: the TSIG secret of {key_name} is not valid base64"
            ) from e
        self._server: Server | None = None

    @classmethod
    def from_settings(
        cls, settings: Rfc2136Settings, domain: str, environ: Mapping[str, str]
    ) -> Rfc2136Provider:
        key_secret = secret(settings.key_secret_env, environ, "dns.rfc2136.key_secret_env")
        return cls(
            settings.server,
            settings.port,
            settings.zone or domain,
            settings.key_name,
            key_secret,
            settings.key_algorithm,
            settings.timeout_s,
        )

    @classmethod
    def from_config(cls, settings: Settings, environ: Mapping[str, str]) -> Rfc2136Provider:
        if settings.dns.rfc2136 is None:
            raise ConfigError(
                'dns.provider = "rfc2136" needs a [dns.rfc2136] section',
                hint="add server, zone and key_name (see README, DNS)",
            )
        return cls.from_settings(settings.dns.rfc2136, settings.domain, environ)

    @property
    def server(self) -> Server:
        if self._server is None:
            self._server = server_address(self.host, self.port)
        return self._server

    def publishable(self, records: Sequence[Record]) -> tuple[list[Record], list[Unpublishable]]:
        return all_publishable(records)

    def read(self, name: str, rtype: RecordType) -> tuple[str, ...]:
        self._check_in_zone(name)
        # TCP, as the updates: a closed port fails at once instead of timing out.
        return query_values(name, rtype, self.server, self.timeout, tcp=True)

    def set(self, record: Record) -> None:
        self.apply([record], {})

    def delete(self, name: str, rtype: RecordType) -> None:
        self.apply([Record(name, rtype, ())], {})

    def apply(self, records: Sequence[Record], expected: Mapping[Slot, tuple[str, ...]]) -> None:
        """One update: the prerequisites `expected`, then every record replaced or deleted."""
        update = self._update()
        for (name, rtype), values in expected.items():
            self._check_in_zone(name)
            owner = dns.name.from_text(name)
            if values:
                # Value-dependent: exactly these values (RFC 2136 §2.4.2, TTL 0).
                update.present(owner, *(make_rdata(rtype, v) for v in values))
            else:
                update.absent(owner, rtype)
        for record in records:
            self._check_in_zone(record.name)
            owner = dns.name.from_text(record.name)
            if record.values:
                rdtype = dns.rdatatype.from_text(record.rtype)
                rdataset = dns.rdataset.Rdataset(dns.rdataclass.IN, rdtype)
                for value in record.values:
                    rdataset.add(make_rdata(record.rtype, value), record.ttl)
                update.replace(owner, rdataset)
            else:
                update.delete(owner, record.rtype)
        self._send(update, _describe(records))

    def authenticate(self) -> None:
        """An update with no change, signed with the key: the server checks the signature
        AND that the key may update the zone, and changes nothing (the serial stays)."""
        self._send(self._update(), "key check")

    def _check_in_zone(self, name: str) -> None:
        if not dns.name.from_text(name).is_subdomain(self.zone):
            raise DnsError(
                f"rfc2136: {name} is not in zone {self.zone.to_text(omit_final_dot=True)}",
                hint="set [dns.rfc2136] zone to the zone that holds your domain",
            )

    def _update(self) -> dns.update.UpdateMessage:
        return dns.update.UpdateMessage(
            self.zone, keyring=self._keyring, keyalgorithm=self._algorithm
        )

    def _send(self, update: dns.update.UpdateMessage, what: str) -> None:
        host, port = self.server
        where = f"rfc2136 {self.host}:{self.port}"
        try:
            response = dns.query.tcp(update, host, port=port, timeout=self.timeout)
        except dns.exception.Timeout as e:
            raise DnsError(f"{where}: no answer within {self.timeout:g} s ({what})") from e
        except (OSError, EOFError) as e:
            raise DnsError(f"{where}: unreachable: {connection_failure(e)}") from e
        except dns.tsig.PeerBadKey as e:
            raise DnsError(
                f"{where}: the server does not know TSIG key {self.key_name}",
                hint="check [dns.rfc2136] key_name and key_algorithm",
            ) from e
        except (dns.tsig.PeerBadSignature, dns.tsig.BadSignature) as e:
            raise DnsError(
                f"{where}: the server rejected the TSIG signature of {self.key_name}",
                hint="check the secret in the environment and key_algorithm",
            ) from e
        except dns.tsig.PeerBadTime as e:
            raise DnsError(
                f"{where}: the server rejected the TSIG time", hint="check the clocks"
            ) from e
        except (dns.tsig.PeerError, dns.message.UnknownTSIGKey) as e:
            raise DnsError(f"{where}: TSIG failed ({e})") from e
        except dns.exception.DNSException as e:
            raise DnsError(f"{where}: {what} failed: {e}") from e
        rcode = response.rcode()
        if rcode in _PREREQUISITE_RCODES:
            raise ZoneChanged(
                f"{where}: the zone changed since it was read "
                f"({dns.rcode.to_text(rcode)}); nothing was applied"
            )
        if rcode != dns.rcode.NOERROR:
            raise DnsError(
                f"{where}: {what} refused with {dns.rcode.to_text(rcode)}",
                hint=_RCODE_HINTS.get(rcode),
            )


def _describe(records: Sequence[Record]) -> str:
    """What an update does, for error messages."""
    if len(records) == 1:
        r = records[0]
        return f"{'set' if r.values else 'delete'} {r.name} {r.rtype}"
    return f"the update of {len(records)} records"


def secret_env(settings: Settings) -> str:
    """The environment variable holding the TSIG key's secret."""
    assert settings.dns.rfc2136 is not None
    return settings.dns.rfc2136.key_secret_env


def renewer_zone(settings: Settings) -> dict[str, object] | None:
    """What the server's own renewer needs to publish challenges (never the secret)."""
    r = settings.dns.rfc2136
    if r is None:
        return None
    return {
        "provider": "rfc2136",
        "server": r.server,
        "port": r.port,
        "zone": r.zone or settings.domain,
        "key_name": r.key_name,
        "key_algorithm": r.key_algorithm,
        "timeout_s": r.timeout_s,
    }
