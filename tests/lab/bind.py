"""BIND9 in the lab: authoritative for mailsh.test, client.test, the PTR zone and a DNSBL zone;
TSIG updates."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver
import docker
from docker.models.containers import Container

from provision.dns.rfc2136 import Rfc2136Provider
from tests.lab.docker_lab import Lab, build_lab_image, free_port, run_lab_container
from tests.waiting import wait_until

BIND_INDEX = 53
TSIG_NAME = "mailsh-lab-key"
TSIG_ALGORITHM = "hmac-sha256"
ZONES = ("mailsh.test", "client.test", "duckdns.test")
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
    container: Container = field(repr=False)

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


def _zone_file(zone: str, bind_ip: str) -> str:
    return (
        f"$ORIGIN {zone}.\n$TTL 60\n"
        f"@ IN SOA ns.{ZONES[0]}. hostmaster.{zone}. 1 60 60 3600 60\n"
        f"@ IN NS ns.{ZONES[0]}.\n" + (f"ns IN A {bind_ip}\n" if zone == ZONES[0] else "")
    )


def _named_conf(zones: tuple[str, ...], secret: str) -> str:
    parts = [
        f'key "{TSIG_NAME}" {{ algorithm {TSIG_ALGORITHM}; secret "{secret}"; }};',
        "options {",
        '  directory "/lab/data";',
        "  listen-on port 53 { any; };",
        "  listen-on-v6 { none; };",
        "  recursion no;",
        "  notify no;",
        "  allow-query { any; };",
        "  dnssec-validation no;",
        "};",
    ]
    for zone in zones:
        parts.append(
            f'zone "{zone}" {{ type primary; file "/lab/data/{zone}.zone"; '
            f'allow-update {{ key "{TSIG_NAME}"; }}; }};'
        )
    return "\n".join(parts) + "\n"


def start_bind(client: docker.DockerClient, lab: Lab, workdir: Path) -> LabDns:
    """Start BIND with fresh zones in `workdir` (mounted into the container)."""
    image = build_lab_image(client, "bind")
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    zones = (*ZONES, lab.reverse_zone, DNSBL_ZONE, PRIVATE_TLD)
    bind_ip = lab.ip(BIND_INDEX)
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o777)
    for zone in zones:
        (data / f"{zone}.zone").write_text(_zone_file(zone, bind_ip))
    (workdir / "named.conf").write_text(_named_conf(zones, secret))
    port = free_port()
    container = run_lab_container(
        client,
        image,
        lab,
        role="bind",
        ip=bind_ip,
        ports={"53/udp": port, "53/tcp": port},
        volumes={str(workdir): {"bind": "/lab", "mode": "rw"}},
    )
    lab_dns = LabDns(
        host="127.0.0.1",
        port=port,
        ip=bind_ip,
        tsig_name=TSIG_NAME,
        tsig_secret=secret,
        tsig_algorithm=TSIG_ALGORITHM,
        zones=zones,
        container=container,
    )

    def answers() -> bool:
        query = dns.message.make_query(f"{ZONES[0]}.", dns.rdatatype.SOA)
        try:
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
            return True
        except (OSError, dns.exception.Timeout):
            container.reload()
            if container.status == "exited":
                raise RuntimeError(container.logs().decode()) from None
            return False

    wait_until(answers, 30, "lab: BIND not ready")
    return lab_dns
