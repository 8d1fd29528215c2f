"""DNS queries for the checks (dnspython), against the resolver the caller passes in.

An empty answer (NXDOMAIN or no data) is a normal result, `[]`; a failed
query (timeout, SERVFAIL, REFUSED) raises DnsLookupError.
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.exception
import dns.resolver
import dns.reversename
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.TXT import TXT

from provision.config_types import parse_host_port
from provision.errors import MailshError


class DnsLookupError(MailshError):
    """A DNS query failed (as opposed to answering that there is no such record)."""


def make_resolver(servers: Sequence[str], timeout: float) -> dns.resolver.Resolver:
    """A resolver asking `servers` ("ip" or "ip:port"); the system's when empty. No cache."""
    if not servers:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        addresses = [parse_host_port(server) for server in servers]
        resolver.nameservers = [host for host, _ in addresses]
        # One port for all: the last one given (dnspython's `port`), else 53.
        resolver.port = next((p for _, p in reversed(addresses) if p is not None), 53)
    resolver.lifetime = timeout
    resolver.timeout = timeout
    resolver.cache = None
    return resolver


def _answer(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> dns.resolver.Answer | None:
    try:
        return resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return None
    except dns.resolver.LifetimeTimeout as e:
        raise DnsLookupError(f"{rdtype} {name}: no answer within {resolver.lifetime:.1f} s") from e
    except dns.resolver.NoNameservers as e:
        raise DnsLookupError(f"{rdtype} {name}: every resolver refused or failed") from e
    except dns.exception.DNSException as e:
        raise DnsLookupError(f"{rdtype} {name}: {e}") from e


def txt(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """Each TXT record at `name`, its character-strings joined."""
    answer = _answer(resolver, name, "TXT")
    if answer is None or answer.rrset is None:
        return []
    return [
        b"".join(r.strings).decode(errors="replace") for r in answer.rrset if isinstance(r, TXT)
    ]


def addresses(resolver: dns.resolver.Resolver, name: str, rdtype: str = "A") -> list[str]:
    answer = _answer(resolver, name, rdtype)
    if answer is None or answer.rrset is None:
        return []
    return sorted(r.to_text() for r in answer.rrset)


def mx(resolver: dns.resolver.Resolver, name: str) -> list[tuple[int, str]]:
    """(preference, exchange) pairs, lowest preference first; names without the final dot."""
    answer = _answer(resolver, name, "MX")
    if answer is None or answer.rrset is None:
        return []
    return sorted(
        (r.preference, r.exchange.to_text(omit_final_dot=True).lower())
        for r in answer.rrset
        if isinstance(r, MX)
    )


def ptr(resolver: dns.resolver.Resolver, ip: str) -> list[str]:
    answer = _answer(resolver, dns.reversename.from_address(ip).to_text(), "PTR")
    if answer is None or answer.rrset is None:
        return []
    return sorted(
        r.target.to_text(omit_final_dot=True).lower() for r in answer.rrset if isinstance(r, PTR)
    )


def reversed_labels(ip: str) -> str:
    """The address as DNSBLs index it: 192.0.2.1 -> 1.2.0.192 (nibbles for IPv6)."""
    name = dns.reversename.from_address(ip)
    origin = (
        dns.reversename.ipv4_reverse_domain
        if name.is_subdomain(dns.reversename.ipv4_reverse_domain)
        else dns.reversename.ipv6_reverse_domain
    )
    return name.relativize(origin).to_text()
