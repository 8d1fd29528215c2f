"""The `[dns]` and `[mta_sts]` sections of mailsh.toml."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from provision.config_types import (
    DomainName,
    Email,
    EnvName,
    HostPort,
    IpAddress,
    Port,
    Section,
    ZoneName,
)

TsigAlgorithm = Literal[
    "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5"
]


class Rfc2136Settings(Section):
    """`[dns.rfc2136]`: dynamic updates signed with TSIG (BIND, Knot, PowerDNS).

    `server` is the primary that accepts updates (host name or address), `zone`
    the zone to update (default: `domain`; a single label such as `test` is a
    zone too), `key_secret_env` the environment variable holding the base64
    TSIG secret.
    """

    server: str
    port: Port = 53
    zone: ZoneName | None = None
    key_name: str
    key_algorithm: TsigAlgorithm = "hmac-sha256"
    key_secret_env: EnvName = "MAILSH_TSIG_SECRET"  # noqa: S105 - a variable name
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0


class DuckDnsSettings(Section):
    """`[dns.duckdns]`: the DuckDNS HTTP API. `domain` must be `<name>.<zone>`.

    DuckDNS serves ONE TXT value for a name and every name below it, so only
    one of SPF, DKIM and DMARC can be published: `txt` chooses which (DKIM by
    default: DMARC alignment passes with DKIM alone). `api` and `zone` exist
    for the offline lab.
    """

    token_env: EnvName = "DUCKDNS_TOKEN"  # noqa: S105 - a variable name
    txt: Literal["spf", "dkim", "dmarc"] = "dkim"
    api: Annotated[str, Field(pattern=r"^https?://[^\s/]+")] = "https://www.duckdns.org"
    zone: DomainName = "duckdns.org"
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 15.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3


def _known_provider(value: str) -> str:
    # Imported here: the registry imports the providers, which import these settings.
    from provision.dns.registry import PROVIDERS

    if value not in PROVIDERS:
        raise ValueError(f"unknown DNS provider (known: {', '.join(PROVIDERS)})")
    return value


class DnsSettings(Section):
    """`[dns]`: which records to publish and through which provider.

    `ip`/`ipv6` are the server's public addresses (A/AAAA of the hostname and
    of `mta-sts.<domain>`; without `ip` no address record is managed). `spf`
    (default: derived from what is published), `dmarc_policy`, `dmarc_rua` and
    `tlsrpt_rua` shape the TXT records.
    `nameservers` ("host:port") are the authoritative servers to poll after an
    update; empty means: look up the zone's NS records. `propagation_timeout_s`
    bounds that wait (0 skips it).
    """

    provider: Annotated[str, AfterValidator(_known_provider)] = "manual"
    auto: bool = False
    ip: IpAddress | None = None
    ipv6: IpAddress | None = None
    ttl: Annotated[int, Field(ge=30, le=86400)] = 300
    spf: Annotated[str, StringConstraints(pattern=r"^v=spf1( |$)")] | None = None
    dmarc_policy: Literal["none", "quarantine", "reject"] = "quarantine"
    dmarc_rua: Email | None = None
    tlsrpt_rua: Email | None = None
    nameservers: list[HostPort] = Field(default_factory=list)
    propagation_timeout_s: Annotated[float, Field(ge=0, le=3600)] = 120.0
    rfc2136: Rfc2136Settings | None = None
    duckdns: DuckDnsSettings = DuckDnsSettings()

    @model_validator(mode="after")
    def _addresses(self) -> DnsSettings:
        if self.ip is not None and ":" in self.ip:
            raise ValueError(f"ip must be an IPv4 address (put {self.ip} in ipv6)")
        if self.ipv6 is not None and ":" not in self.ipv6:
            raise ValueError(f"ipv6 must be an IPv6 address (put {self.ipv6} in ip)")
        # A provider with settings of its own has a section named after it.
        if self.provider in type(self).model_fields and getattr(self, self.provider) is None:
            raise ValueError(f'provider = "{self.provider}" needs a [dns.{self.provider}] section')
        return self


class MtaStsSettings(Section):
    """`[mta_sts]`: the policy caddy serves at https://mta-sts.<domain>/.well-known/.

    `enabled = false` drops `mta-sts.<domain>` from the site and the certificate;
    `mx` lists the policy's MX patterns (default: the server's hostname).
    """

    enabled: bool = True
    mode: Literal["enforce", "testing", "none"] = "testing"
    mx: list[DomainName] = Field(default_factory=list)
    max_age: Annotated[int, Field(ge=86400, le=31557600)] = 604800
