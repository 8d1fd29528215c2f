"""Ask authoritative servers directly (no caching resolver) and find them.

Values use the provider interface's format (provider.py): TXT values whole,
other types in dnspython's presentation format.
"""

from __future__ import annotations

import socket

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
from dns.rdtypes.ANY.TXT import TXT

from provision.config_types import split_host_port
from provision.dns.provider import RecordType, txt_strings
from provision.errors import DnsError

Server = tuple[str, int]
DNS_PORT = 53


def rdata_value(rdata: dns.rdata.Rdata) -> str:
    """One record value in the provider interface's format."""
    if isinstance(rdata, TXT):
        return b"".join(rdata.strings).decode("utf-8", "backslashreplace")
    return str(rdata.to_text())


def make_rdata(rtype: RecordType, value: str) -> dns.rdata.Rdata:
    """The rdata for one value; TXT values are split into <= 255-byte strings."""
    if rtype == "TXT":
        return TXT(dns.rdataclass.IN, dns.rdatatype.TXT, txt_strings(value))
    try:
        return dns.rdata.from_text(dns.rdataclass.IN, rtype, value)
    except dns.exception.SyntaxError as e:
        raise DnsError(f"{value!r} is not a valid {rtype} value: {e}") from e


def server_address(host: str, port: int) -> Server:
    """An IP address for `host` (dnspython's query functions need one)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_UDP)
    except socket.gaierror as e:
        raise DnsError(f"DNS server {host}: cannot resolve its address ({e.strerror})") from e
    return str(infos[0][4][0]), port


def connection_failure(e: OSError | EOFError) -> str:
    """A short reason for a failed connection, for one-line errors."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__


def query_values(
    name: str, rtype: RecordType, server: Server, timeout: float, tcp: bool = False
) -> tuple[str, ...]:
    """The values `server` answers for (name, rtype), sorted; empty for NXDOMAIN/NODATA.
    Over UDP (TCP when truncated), or TCP only with `tcp`."""
    host, port = server
    query = dns.message.make_query(dns.name.from_text(name), rtype)
    try:
        if tcp:
            response = dns.query.tcp(query, host, port=port, timeout=timeout)
        else:
            response, _ = dns.query.udp_with_fallback(query, host, port=port, timeout=timeout)
    except dns.exception.Timeout as e:
        raise DnsError(f"DNS server {host}:{port} did not answer within {timeout:g} s") from e
    except (OSError, EOFError) as e:
        raise DnsError(f"DNS server {host}:{port} unreachable: {connection_failure(e)}") from e
    except dns.exception.DNSException as e:
        raise DnsError(f"DNS server {host}:{port}: bad answer for {name} {rtype}: {e}") from e
    rcode = response.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return ()
    if rcode != dns.rcode.NOERROR:
        raise DnsError(
            f"DNS server {host}:{port} answered {dns.rcode.to_text(rcode)} for {name} {rtype}",
            hint="is it authoritative for this zone?",
        )
    qname = dns.name.from_text(name)
    rdtype = dns.rdatatype.from_text(rtype)
    values: list[str] = []
    for rrset in response.answer:
        if rrset.name == qname and rrset.rdtype == rdtype:
            values.extend(rdata_value(r) for r in rrset)
    return tuple(sorted(values))


def find_nameservers(name: str, resolver: dns.resolver.Resolver) -> list[Server]:
    """Addresses (port 53) of the NS of the zone that holds `name`, via `resolver`."""
    try:
        zone = dns.resolver.zone_for_name(name, resolver=resolver)
        ns_names = [str(r.target) for r in resolver.resolve(zone, "NS")]
    except dns.resolver.NoRootSOA:
        raise DnsError(
            f"cannot find the authoritative servers of {name}: no DNS zone holds it here "
            "(a local-only domain, or a resolver that does not see the public DNS)",
            hint="set [dns] nameservers to the servers of your zone",
        ) from None
    except dns.exception.DNSException as e:
        raise DnsError(
            f"cannot find the authoritative servers of {name}: {e}",
            hint="set [dns] nameservers",
        ) from e
    servers: list[Server] = []
    for ns in sorted(ns_names):
        for rtype in ("A", "AAAA"):
            try:
                servers.extend((str(r), 53) for r in resolver.resolve(ns, rtype))
            except dns.exception.DNSException:
                continue  # an NS without this address family
    if not servers:
        raise DnsError(f"the name servers of {zone} have no address", hint="set [dns] nameservers")
    return servers


def parse_servers(entries: list[str]) -> list[Server]:
    """`[dns] nameservers` entries ("host:port") as addresses."""
    return [server_address(*split_host_port(entry, DNS_PORT)) for entry in entries]
