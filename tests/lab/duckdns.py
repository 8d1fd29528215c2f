"""A DuckDNS-compatible API in the lab that writes into the lab BIND (zone duckdns.test)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import docker
import requests
from docker.models.containers import Container

from tests.lab.bind import LabDns
from tests.lab.docker_lab import Lab, build_lab_image, host_port, run_lab_container
from tests.waiting import wait_until

DUCKDNS_INDEX = 54
DUCKDNS_ZONE = "duckdns.test"
# The lab account's subnames: one per test area, so areas do not overwrite each other.
DUCKDNS_DOMAINS = ("mailsh", "acme", "checks", "spare")


@dataclass
class LabDuckDns:
    """How tests reach the fake DuckDNS API; its names live in `zone` on `dns`."""

    url: str
    token: str
    zone: str
    domains: tuple[str, ...]
    dns: LabDns
    container: Container = field(repr=False)

    def dns_config(
        self,
        txt: str = "dkim",
        token_env: str = "MAILSH_LAB_DUCKDNS_TOKEN",  # noqa: S107 - a variable name
    ) -> dict[str, Any]:
        """A `[dns]` table for mailsh.toml using this API; the token goes in `token_env`."""
        return {
            "provider": "duckdns",
            "nameservers": [f"{self.dns.host}:{self.dns.port}"],
            "propagation_timeout_s": 10,
            "duckdns": {
                "api": self.url,
                "zone": self.zone,
                "token_env": token_env,
                "txt": txt,
                "retries": 0,
            },
        }


def start_duckdns(client: docker.DockerClient, lab: Lab, lab_dns: LabDns) -> LabDuckDns:
    image = build_lab_image(client, "duckdns")
    token = secrets.token_hex(16)
    container = run_lab_container(
        client,
        image,
        lab,
        role="duckdns",
        ip=lab.ip(DUCKDNS_INDEX),
        ports={"80/tcp": None},
        environment={
            "DUCKDNS_TOKEN": token,
            "DUCKDNS_DOMAINS": ",".join(DUCKDNS_DOMAINS),
            "DUCKDNS_ZONE": DUCKDNS_ZONE,
            "BIND_SERVER": lab_dns.ip,
            "BIND_PORT": "53",
            "TSIG_NAME": lab_dns.tsig_name,
            "TSIG_SECRET": lab_dns.tsig_secret,
            "TSIG_ALGORITHM": lab_dns.tsig_algorithm,
        },
    )
    url = f"http://127.0.0.1:{host_port(container, '80/tcp')}"

    def answers() -> bool:
        try:
            return requests.get(f"{url}/health", timeout=1).text == "OK"
        except requests.RequestException:
            container.reload()
            if container.status == "exited":
                raise RuntimeError(container.logs().decode()) from None
            return False

    wait_until(answers, 30, "lab: DuckDNS API not ready")
    return LabDuckDns(url, token, DUCKDNS_ZONE, DUCKDNS_DOMAINS, lab_dns, container)
