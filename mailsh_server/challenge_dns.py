"""ACME challenge records from inside the container, for the renewer: the TXT part of
the rfc2136 (TSIG) and duckdns providers, and the wait for the authoritative servers.

The operator's full providers (provision.dns) need its configuration library; the
server needs only these few calls, on Debian's dnspython and requests. They follow
the same rules: rfc2136 asks the primary directly over TCP, DuckDNS holds one TXT
for the name and everything below it (so challenges go one at a time).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import requests

Server = tuple[str, int]
Progress = Callable[[str], None]
TXT_STRING_MAX = 255


class ChallengeDnsError(Exception):
    """A DNS server or the DuckDNS API refused or failed."""


def address(host: str, port: int) -> Server:
    try:
        return str(socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)[0][4][0]), port
    except socket.gaierror as e:
        raise ChallengeDnsError(f"cannot resolve {host}: {e.strerror}") from None


def query_txt(name: str, server: Server, timeout: float) -> tuple[str, ...]:
    """The TXT values `server` answers for `name` (empty for NXDOMAIN/NODATA)."""
    query = dns.message.make_query(name, dns.rdatatype.TXT)
    try:
        response = dns.query.tcp(query, server[0], port=server[1], timeout=timeout)
    except (dns.exception.DNSException, OSError, EOFError) as e:
        raise ChallengeDnsError(
            f"DNS server {server[0]}:{server[1]}: {e or type(e).__name__}"
        ) from e
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise ChallengeDnsError(
            f"DNS server {server[0]}:{server[1]} answered {dns.rcode.to_text(response.rcode())}"
        )
    qname = dns.name.from_text(name)
    return tuple(
        sorted(
            b"".join(r.strings).decode()
            for rrset in response.answer
            if rrset.name == qname and rrset.rdtype == dns.rdatatype.TXT
            for r in rrset
        )
    )


def _strings(value: str) -> list[str]:
    raw = value.encode()
    return [raw[i : i + TXT_STRING_MAX].decode() for i in range(0, len(raw), TXT_STRING_MAX)]


class Rfc2136Zone:
    """TXT records through dynamic updates signed with TSIG."""

    name = "rfc2136"
    errors: tuple[type[Exception], ...] = (ChallengeDnsError,)

    def __init__(
        self,
        server: str,
        port: int,
        zone: str,
        key_name: str,
        secret: str,
        algorithm: str,
        timeout: float = 10.0,
    ) -> None:
        self.server = address(server, port)
        self.zone = dns.name.from_text(zone)
        self.timeout = timeout
        self._keyring = dns.tsigkeyring.from_text({key_name: secret})
        self._algorithm = dns.name.from_text(algorithm)

    def read_txt(self, name: str) -> tuple[str, ...]:
        return query_txt(name, self.server, self.timeout)

    def set_txt(self, name: str, values: tuple[str, ...], ttl: int) -> None:
        update = self._update()
        texts = (" ".join(f'"{s}"' for s in _strings(v)) for v in values)
        update.replace(dns.name.from_text(name), ttl, "TXT", *texts)
        self._send(update, f"set {name} TXT")

    def delete_txt(self, name: str) -> None:
        update = self._update()
        update.delete(dns.name.from_text(name), "TXT")
        self._send(update, f"delete {name} TXT")

    def _update(self) -> dns.update.UpdateMessage:
        return dns.update.UpdateMessage(
            self.zone, keyring=self._keyring, keyalgorithm=self._algorithm
        )

    def _send(self, update: dns.update.UpdateMessage, what: str) -> None:
        host, port = self.server
        try:
            response = dns.query.tcp(update, host, port=port, timeout=self.timeout)
        except (dns.exception.DNSException, OSError, EOFError) as e:
            raise ChallengeDnsError(
                f"rfc2136 {host}:{port}: {what} failed: {e or type(e).__name__}"
            ) from e
        if response.rcode() != dns.rcode.NOERROR:
            raise ChallengeDnsError(
                f"rfc2136 {host}:{port}: {what} refused with {dns.rcode.to_text(response.rcode())}"
            )


class DuckDnsZone:
    """The one TXT value of a DuckDNS name, through its update API."""

    name = "duckdns"
    errors: tuple[type[Exception], ...] = (ChallengeDnsError,)

    def __init__(
        self, api: str, subname: str, token: str, nameservers: Sequence[Server], timeout: float
    ) -> None:
        self.api = api.rstrip("/")
        self.subname = subname
        self.timeout = timeout
        self._token = token
        self._nameservers = list(nameservers)

    def read_txt(self, name: str) -> tuple[str, ...]:
        if not self._nameservers:
            raise ChallengeDnsError("duckdns: no name server to read from")
        return query_txt(name, self._nameservers[0], self.timeout)

    def set_txt(self, name: str, values: tuple[str, ...], ttl: int) -> None:
        self._update(txt=values[0])

    def delete_txt(self, name: str) -> None:
        self._update(txt="", clear="true")

    def _update(self, **params: str) -> None:
        query = {"domains": self.subname, "token": self._token, **params}
        try:
            response = requests.get(f"{self.api}/update", params=query, timeout=self.timeout)
        except requests.RequestException as e:
            # The message of a requests error contains the URL, token included.
            raise ChallengeDnsError(
                f"duckdns: cannot reach {self.api}: {type(e).__name__}"
            ) from None
        if response.status_code != 200 or not response.text.strip().startswith("OK"):
            raise ChallengeDnsError(
                f"duckdns: the update of {self.subname} was refused "
                f"(HTTP {response.status_code}: {response.text.strip()[:20]})"
            )


def wait_for_txt(
    name: str, value: str, servers: Sequence[Server], timeout: float, progress: Progress
) -> None:
    """Until every server answers `value` among the TXT values of `name` (bounded)."""
    deadline = time.monotonic() + timeout
    pending = list(servers)
    last = ""
    while pending:
        still = []
        for server in pending:
            try:
                if value not in query_txt(name, server, 3.0):
                    still.append(server)
            except ChallengeDnsError as e:
                last = str(e)
                still.append(server)
        pending = still
        if pending and time.monotonic() > deadline:
            where = ", ".join(f"{h}:{p}" for h, p in pending)
            raise ChallengeDnsError(f"after {timeout:g} s, {where} do not answer TXT {name} {last}")
        if pending:
            time.sleep(0.5)
    progress(f"TXT {name} visible on every authoritative server")


def find_nameservers(name: str) -> list[Server]:
    """The addresses of the name servers of the zone holding `name` (system resolver)."""
    import dns.resolver

    try:
        zone = dns.resolver.zone_for_name(name)
        targets = [str(r.target) for r in dns.resolver.resolve(zone, "NS")]
        found = [(str(a), 53) for t in sorted(targets) for a in dns.resolver.resolve(t, "A")]
    except dns.exception.DNSException as e:
        raise ChallengeDnsError(f"cannot find the name servers of {name}: {e}") from e
    if not found:
        raise ChallengeDnsError(f"the name servers of {name} have no address")
    return found
