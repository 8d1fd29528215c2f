"""Every DNS provider: its capabilities and how to make it from the settings.

Adding a provider is one module (a class with `name`, `capabilities`, `from_config`
and the `DnsProvider` methods) and one line here. Callers ask `capabilities()`,
never compare provider names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from provision.dns import duckdns, rfc2136
from provision.dns.provider import Capabilities, DnsProvider

if TYPE_CHECKING:
    from provision.config import Settings

ProviderFactory = Callable[["Settings", Mapping[str, str]], DnsProvider]
# The settings the server's own certificate renewer gets for this provider (rendered
# into renewal.json; mailsh_server.challenge_dns reads them). None: it cannot renew.
RenewerZone = Callable[["Settings"], "dict[str, object] | None"]
# The environment variable holding the provider's secret (TSIG key, token).
SecretEnv = Callable[["Settings"], str]


@dataclass(frozen=True)
class ProviderEntry:
    capabilities: Capabilities
    create: ProviderFactory | None  # None: nothing to call, the user publishes (manual)
    renewer_zone: RenewerZone | None = None
    secret_env: SecretEnv | None = None


MANUAL = Capabilities(manual=True)

PROVIDERS: dict[str, ProviderEntry] = {
    "rfc2136": ProviderEntry(
        rfc2136.CAPABILITIES,
        rfc2136.Rfc2136Provider.from_config,
        rfc2136.renewer_zone,
        rfc2136.secret_env,
    ),
    "duckdns": ProviderEntry(
        duckdns.CAPABILITIES,
        duckdns.DuckDnsProvider.from_config,
        duckdns.renewer_zone,
        duckdns.secret_env,
    ),
    "manual": ProviderEntry(MANUAL, None),
}


def capabilities(settings: Settings) -> Capabilities:
    return PROVIDERS[settings.dns.provider].capabilities


def renewer_zone(settings: Settings) -> dict[str, object] | None:
    """The provider's settings for the server's own renewer; None when it has none."""
    zone = PROVIDERS[settings.dns.provider].renewer_zone
    return zone(settings) if zone else None


def secret_env(settings: Settings) -> str | None:
    """The environment variable holding the provider's secret; None when it has none."""
    env = PROVIDERS[settings.dns.provider].secret_env
    return env(settings) if env else None


def make_provider(settings: Settings, environ: Mapping[str, str]) -> DnsProvider | None:
    """The configured provider (None when the user publishes by hand); secrets come from
    `environ`."""
    create = PROVIDERS[settings.dns.provider].create
    return create(settings, environ) if create else None
