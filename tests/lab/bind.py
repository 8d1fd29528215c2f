"""BIND9 in the lab: authoritative for mailsh.test, client.test, the PTR zone and a DNSBL zone;
TSIG updates. compose.yml names the zones and the key (tests/lab/bind/start.sh writes them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver

from provision.dns.rfc2136 import Rfc2136Provider
from tests.lab.compose import Lab

# A blocklist zone: tests list and unlist addresses as <reversed ip>.dnsbl.test A 127.0.0.x.
DNSBL_ZONE = "dnsbl.test"
# A single-label zone, as a private TLD is: `[dns.rfc2136] zone = "lab"`.
PRIVATE_TLD = "lab"


@dataclass
class LabDns:
    """How tests reach the lab's BIND and update it."""

    host: str
    port: int
    ip: str
    tsig_name: str
    tsig_secret: str
    tsig_algorithm: str
    zones: tuple[str, ...]

    def provider(self, zone: str) -> Rfc2136Provider:
        """An rfc2136 provider that updates `zone` on this BIND with the lab's TSIG key."""
        return Rfc2136Provider(
            self.host, self.port, zone, self.tsig_name, self.tsig_secret, self.tsig_algorithm
        )

    def dns_config(self, zone: str, secret_env: str = "MAILSH_LAB_TSIG") -> dict[str, Any]:  # noqa: S107
        """A `[dns]` table for mailsh.toml publishing into `zone` here; the TSIG secret
        goes in the environment variable `secret_env`, as in production."""
        return {
            "provider": "rfc2136",
            "nameservers": [f"{self.host}:{self.port}"],
            "propagation_timeout_s": 10,
            "rfc2136": {
                "server": self.host,
                "port": self.port,
                "zone": zone,
                "key_name": self.tsig_name,
                "key_algorithm": self.tsig_algorithm,
                "key_secret_env": secret_env,
            },
        }

    def resolver(self) -> dns.resolver.Resolver:
        """A resolver that asks only the lab BIND (no cache, no system config)."""
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [self.host]
        r.port = self.port
        r.lifetime = 3.0
        r.cache = None
        return r


def wait_for_bind(lab: Lab) -> LabDns:
    """The lab BIND (compose service `bind`), once it answers on its published port."""
    env = lab.environment("bind")
    port = lab.env.dns_port

    def answers() -> bool:
        query = dns.message.make_query(f"{env['ZONES'].split()[0]}.", dns.rdatatype.SOA)
        try:
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
            return True
        except (OSError, dns.exception.Timeout):
            return False

    lab.wait_ready("bind", answers, 30)
    return LabDns(
        host="127.0.0.1",
        port=port,
        ip=lab.address("bind"),
        tsig_name=env["TSIG_NAME"],
        tsig_secret=env["TSIG_SECRET"],
        tsig_algorithm=env["TSIG_ALGORITHM"],
        zones=(*env["ZONES"].split(), lab.reverse_zone),
    )
