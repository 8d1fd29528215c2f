"""What the checks look at: plain values taken from the settings and the state directory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.resolver

from provision.config import Settings
from provision.config_types import join_host_port, parse_host_port
from provision.deliverability.lookup import make_resolver
from provision.dkim import load_selectors
from provision.dns.records import spf_value
from provision.dns.registry import capabilities
from provision.state import DkimKey, StateDir


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @classmethod
    def parse(cls, value: str) -> Endpoint:
        """A validated "host:port" (config_types.HostPort)."""
        host, port = parse_host_port(value)
        if port is None:
            raise ValueError(f"{value!r} has no port")
        return cls(host, port)

    def __str__(self) -> str:
        return join_host_port(self.host, self.port)


@dataclass(frozen=True)
class Relay:
    endpoint: Endpoint
    starttls: bool


@dataclass(frozen=True)
class Target:
    """Everything a check needs; a check reads nothing else (except the network)."""

    domain: str
    hostname: str
    ip: str | None
    ipv6: str | None
    selector: str
    dkim_public_b64: str | None
    smtp: Endpoint
    https: Endpoint
    ca_bundle: Path | None
    dnsbl_zones: tuple[str, ...]
    outbound_probe: Endpoint
    relay: Relay | None
    mta_sts_served: bool
    timeout_s: float
    cert_warn_days: int
    resolver: dns.resolver.Resolver = field(repr=False, compare=False)
    # Sends a signed command and returns the raw reply (`--send`); None skips end-to-end.
    send_probe: Callable[[str], bytes] | None = field(default=None, repr=False, compare=False)
    reply_timeout_s: float = 60.0
    # The SPF record `dns-update` publishes (what a fix suggests).
    spf_record: str = "v=spf1 mx -all"
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def mta_sts_host(self) -> str:
        return f"mta-sts.{self.domain}"


def _local(bind: str) -> str:
    return "127.0.0.1" if bind in ("0.0.0.0", "::") else bind  # noqa: S104 - a comparison


def dkim_public_key(state: StateDir, selector: str) -> str | None:
    """The `p=` value of the state's DKIM key, or None when no key was generated yet."""
    path = state.dkim_key_file(selector)
    if not path.exists():
        return None
    return DkimKey(selector, path.read_bytes()).public_b64


def target_from_settings(
    settings: Settings,
    resolver: dns.resolver.Resolver | None = None,
    send_probe: Callable[[str], bytes] | None = None,
) -> Target:
    d = settings.deliverability
    bind = _local(settings.ports.bind)
    state = StateDir(settings.state_dir)
    selector = load_selectors(state, settings.dkim.selector).signing
    relay = (
        Relay(Endpoint(settings.relay.host, settings.relay.port), settings.relay.starttls)
        if settings.relay
        else None
    )
    return Target(
        domain=settings.domain,
        hostname=settings.fqdn,
        ip=settings.dns.ip,
        ipv6=settings.dns.ipv6,
        selector=selector,
        dkim_public_b64=dkim_public_key(state, selector),
        smtp=Endpoint.parse(d.smtp) if d.smtp else Endpoint(bind, settings.ports.smtp),
        https=Endpoint.parse(d.https) if d.https else Endpoint(bind, settings.ports.https),
        ca_bundle=d.ca_bundle,
        dnsbl_zones=tuple(d.dnsbl_zones),
        outbound_probe=Endpoint.parse(d.outbound_probe),
        relay=relay,
        mta_sts_served=settings.mta_sts.enabled,
        timeout_s=d.timeout_s,
        cert_warn_days=d.cert_warn_days,
        resolver=resolver or make_resolver(d.resolvers, d.timeout_s),
        send_probe=send_probe,
        reply_timeout_s=d.reply_timeout_s,
        spf_record=spf_value(settings, capabilities(settings)),
    )
