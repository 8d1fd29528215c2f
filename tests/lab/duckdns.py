"""A DuckDNS-compatible API in the lab that writes into the lab BIND (compose service
`duckdns`; its zone and account's subnames are in compose.yml)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from tests.lab.bind import LabDns
from tests.lab.compose import Lab


@dataclass
class LabDuckDns:
    """How tests reach the fake DuckDNS API; its names live in `zone` on `dns`."""

    url: str
    token: str
    zone: str
    domains: tuple[str, ...]
    dns: LabDns

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


def wait_for_duckdns(lab: Lab, lab_dns: LabDns) -> LabDuckDns:
    """The API, once it answers its health check on its published port."""
    env = lab.environment("duckdns")
    url = f"http://127.0.0.1:{lab.port('duckdns', 80)}"

    def answers() -> bool:
        try:
            return requests.get(f"{url}/health", timeout=1).text == "OK"
        except requests.RequestException:
            return False

    lab.wait_ready("duckdns", answers, 30)
    domains = tuple(env["DUCKDNS_DOMAINS"].split(","))
    return LabDuckDns(url, env["DUCKDNS_TOKEN"], env["DUCKDNS_ZONE"], domains, lab_dns)
