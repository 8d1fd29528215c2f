"""The `[deliverability]` section of mailsh.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from provision.config_types import DomainName, HostPort, IpOptionalPort, Section

DEFAULT_DNSBL_ZONES = (
    "zen.spamhaus.org",
    "bl.spamcop.net",
    "b.barracudacentral.org",
    "psbl.surriel.com",
)


class DeliverabilitySettings(Section):
    """`[deliverability]`: how `invoke check-deliverability` looks at the server.

    `resolvers` ("ip" or "ip:port") default to the system's. `smtp`/`https` are
    the addresses to connect to (default: the published ports); certificates are
    checked for the hostname whatever the address. `ca_bundle` replaces the
    system's CA store. `outbound_probe` is any mail server's port 25.
    """

    resolvers: list[IpOptionalPort] = Field(default_factory=list)
    dnsbl_zones: list[DomainName] = Field(default_factory=lambda: list(DEFAULT_DNSBL_ZONES))
    smtp: HostPort | None = None
    https: HostPort | None = None
    ca_bundle: Path | None = None
    outbound_probe: HostPort = "gmail-smtp-in.l.google.com:25"
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.5
    cert_warn_days: Annotated[int, Field(ge=0)] = 14
    reply_timeout_s: Annotated[float, Field(gt=0, le=600)] = 60.0
