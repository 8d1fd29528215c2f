"""Load and validate mailsh.toml (DESIGN §2) into typed settings.

Secrets never live in the file: it names environment variables, and
`secret()` reads them from the `environ` passed in.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from provision.errors import ConfigError

DEFAULT_DOMAIN = "mailsh.localdomain"
CONFIG_ENV = "MAILSH_CONFIG"
CONFIG_FILENAME = "mailsh.toml"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$|^[0-9A-F]{64}$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _domain_name(value: str) -> str:
    name = value.strip().rstrip(".").lower()
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{value!r} is not a valid domain name (like example.org)")
    if labels[-1].isdigit():
        raise ValueError(f"{value!r} is not a valid domain name (like example.org)")
    return name


def _email(value: str) -> str:
    local, sep, domain = value.rpartition("@")
    if not sep or not local or any(c.isspace() for c in local):
        raise ValueError(f"{value!r} is not an e-mail address (like admin@example.org)")
    return f"{local}@{_domain_name(domain)}"


def _fingerprint(value: str) -> str:
    fpr = value.replace(" ", "").upper()
    if not _FINGERPRINT.match(fpr):
        raise ValueError(f"{value!r} is not an OpenPGP fingerprint (40 or 64 hex digits)")
    return fpr


def _unix_user(value: str) -> str:
    if not _USER.match(value):
        raise ValueError(f"{value!r} is not a valid Unix user name")
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


DomainName = Annotated[str, AfterValidator(_domain_name)]
Email = Annotated[str, AfterValidator(_email)]
Fingerprint = Annotated[str, AfterValidator(_fingerprint)]
UnixUser = Annotated[str, AfterValidator(_unix_user)]
EnvName = Annotated[str, AfterValidator(_env_name)]
IpAddress = Annotated[str, AfterValidator(_ip)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageSettings(Section):
    base: str = "debian:bookworm-slim"
    name: str = "mailsh"


class PortSettings(Section):
    bind: IpAddress = "127.0.0.1"
    smtp: Port = 2525
    https: Port = 8443


class NetworkSettings(Section):
    """Where the container lives: an existing Docker network (with an optional fixed
    address on it) and the resolvers postfix uses (the lab points them at its BIND)."""

    docker_network: str | None = None
    ip: IpAddress | None = None
    dns: list[IpAddress] = []


class SmtpSettings(Section):
    max_message_mb: Annotated[int, Field(ge=1, le=100)] = 10


class DkimSettings(Section):
    selector: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")] = "mail"
    bits: Literal[1024, 2048, 3072, 4096] = 2048


class TlsSettings(Section):
    mode: Literal["acme", "self-signed", "files"] = "self-signed"
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _files_given(self) -> TlsSettings:
        if self.mode == "files" and (self.cert_file is None or self.key_file is None):
            raise ValueError('mode = "files" needs cert_file and key_file')
        return self


ACME_DIRECTORIES = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}


def _acme_directory(value: str) -> str:
    if value in ACME_DIRECTORIES or value.startswith(("https://", "http://")):
        return value
    names = ", ".join(ACME_DIRECTORIES)
    raise ValueError(f"{value!r} is neither a directory URL nor one of {names}")


class AcmeSettings(Section):
    directory: Annotated[str, AfterValidator(_acme_directory)] = "letsencrypt"
    email: Email | None = None
    ca_bundle: Path | None = None
    agree_tos: bool = False

    @property
    def directory_url(self) -> str:
        """The directory URL; `letsencrypt` and `letsencrypt-staging` are shortcuts."""
        return ACME_DIRECTORIES.get(self.directory, self.directory)


TsigAlgorithm = Literal[
    "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5"
]


class Rfc2136Settings(Section):
    """`[dns.rfc2136]`: dynamic updates signed with TSIG (BIND, Knot, PowerDNS).

    `server` is the primary that accepts updates (host name or address), `zone`
    the zone to update (default: `domain`), `key_secret_env` the environment
    variable holding the base64 TSIG secret.
    """

    server: str
    port: Port = 53
    zone: DomainName | None = None
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


def _nameserver(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port (like 192.0.2.53:53)")
    return value


NameServer = Annotated[str, AfterValidator(_nameserver)]


class DnsSettings(Section):
    """`[dns]`: which records to publish and through which provider.

    `ip`/`ipv6` are the server's public addresses (A/AAAA of the hostname and
    of `mta-sts.<domain>`; without `ip` no address record is managed). `spf`,
    `dmarc_policy`, `dmarc_rua` and `tlsrpt_rua` shape the TXT records.
    `nameservers` ("host:port") are the authoritative servers to poll after an
    update; empty means: look up the zone's NS records. `propagation_timeout_s`
    bounds that wait (0 skips it).
    """

    provider: Literal["duckdns", "rfc2136", "manual"] = "manual"
    auto: bool = False
    ip: IpAddress | None = None
    ipv6: IpAddress | None = None
    ttl: Annotated[int, Field(ge=30, le=86400)] = 300
    spf: Annotated[str, Field(pattern=r"^v=spf1( |$)")] = "v=spf1 a mx -all"
    dmarc_policy: Literal["none", "quarantine", "reject"] = "quarantine"
    dmarc_rua: Email | None = None
    tlsrpt_rua: Email | None = None
    nameservers: list[NameServer] = []
    propagation_timeout_s: Annotated[float, Field(ge=0, le=3600)] = 120.0
    rfc2136: Rfc2136Settings | None = None
    duckdns: DuckDnsSettings = DuckDnsSettings()

    @model_validator(mode="after")
    def _addresses(self) -> DnsSettings:
        if self.ip is not None and ":" in self.ip:
            raise ValueError(f"ip must be an IPv4 address (put {self.ip} in ipv6)")
        if self.ipv6 is not None and ":" not in self.ipv6:
            raise ValueError(f"ipv6 must be an IPv6 address (put {self.ipv6} in ip)")
        if self.provider == "rfc2136" and self.rfc2136 is None:
            raise ValueError('provider = "rfc2136" needs a [dns.rfc2136] section')
        return self


class MtaStsSettings(Section):
    """`[mta_sts]`: the policy caddy serves at https://mta-sts.<domain>/.well-known/.

    `enabled = false` drops `mta-sts.<domain>` from the site and the certificate;
    `mx` lists the policy's MX patterns (default: the server's hostname).
    """

    enabled: bool = True
    mode: Literal["enforce", "testing", "none"] = "testing"
    mx: list[DomainName] = []
    max_age: Annotated[int, Field(ge=86400, le=31557600)] = 604800


class RelaySettings(Section):
    host: str
    port: Port = 587
    username: str | None = None
    password_env: EnvName | None = None
    starttls: bool = True


class RequestSettings(Section):
    recipient: Email | None = None
    run_as: UnixUser = "mailsh"
    timeout_s: Annotated[int, Field(ge=1, le=86400)] = 60
    max_output_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
    max_age_s: Annotated[int, Field(ge=10)] = 600
    reply_on_reject: bool = False
    require_binding: bool = False
    # None: keep replies in a local mailbox only in local mode (no relay,
    # self-signed TLS, manual DNS); see provision.render.catches_replies.
    catch_replies: bool | None = None


class TrustedKey(Section):
    fingerprint: Fingerprint
    run_as: UnixUser | None = None
    reply_to: Email | None = None


class ClientSettings(Section):
    """`invoke send`: the signing key, and the user's own mail account for real use.

    With no `smtp`, requests go to the local server's published port; with no
    `imap`, `--wait` reads the reply from the local-mode reply mailbox.
    """

    key: str | None = None
    address: Email | None = None
    smtp: str | None = None
    imap: str | None = None
    username: str | None = None
    password_env: EnvName | None = None


HostPort = NameServer  # "host:port", validated the same way

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

    resolvers: list[str] = []
    dnsbl_zones: list[DomainName] = list(DEFAULT_DNSBL_ZONES)
    smtp: HostPort | None = None
    https: HostPort | None = None
    ca_bundle: Path | None = None
    outbound_probe: HostPort = "gmail-smtp-in.l.google.com:25"
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.5
    cert_warn_days: Annotated[int, Field(ge=0)] = 14
    reply_timeout_s: Annotated[float, Field(gt=0, le=600)] = 60.0

    @model_validator(mode="after")
    def _resolvers_valid(self) -> DeliverabilitySettings:
        for r in self.resolvers:
            host, _, port = r.rpartition(":") if r.count(":") == 1 else (r, "", "53")
            _ip(host)
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"resolvers: {r!r} is not ip or ip:port")
        return self


class Settings(Section):
    """The whole validated configuration."""

    domain: DomainName = DEFAULT_DOMAIN
    hostname: DomainName | None = None
    admin_email: Email | None = None
    state_dir: Path = Path(".mailsh")
    container_name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")] = "mailsh"
    image: ImageSettings = ImageSettings()
    ports: PortSettings = PortSettings()
    smtp: SmtpSettings = SmtpSettings()
    network: NetworkSettings = NetworkSettings()
    dkim: DkimSettings = DkimSettings()
    tls: TlsSettings = TlsSettings()
    acme: AcmeSettings = AcmeSettings()
    dns: DnsSettings = DnsSettings()
    mta_sts: MtaStsSettings = MtaStsSettings()
    relay: RelaySettings | None = None
    requests: RequestSettings = RequestSettings()
    keys: list[TrustedKey] = []
    client: ClientSettings = ClientSettings()
    deliverability: DeliverabilitySettings = DeliverabilitySettings()

    @property
    def fqdn(self) -> str:
        """The server's host name: `hostname`, or `mail.<domain>`."""
        return self.hostname or f"mail.{self.domain}"

    @property
    def postmaster(self) -> str:
        return self.admin_email or f"postmaster@{self.domain}"

    @property
    def request_recipient(self) -> str:
        return self.requests.recipient or f"root@{self.domain}"


def _format_error(err: ErrorDetails) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key (check its spelling against DESIGN §2)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if "input" in err and kind not in ("missing",) and not isinstance(err["input"], dict):
        return f"{where}: {msg}, got {err['input']!r}"
    return f"{where}: {msg}"


def parse_settings(data: Mapping[str, Any], source: str, base_dir: Path) -> Settings:
    """Validate a parsed TOML mapping; relative paths are taken from `base_dir`."""
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        first = _format_error(e.errors()[0])
        more = len(e.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{source}: {first}{suffix}") from None
    if not settings.state_dir.is_absolute():
        settings = settings.model_copy(update={"state_dir": base_dir / settings.state_dir})
    bundle = settings.acme.ca_bundle
    if bundle is not None and not bundle.is_absolute():
        acme = settings.acme.model_copy(update={"ca_bundle": base_dir / bundle})
        settings = settings.model_copy(update={"acme": acme})
    return settings


def find_config(path: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The config file to read: `path`, then $MAILSH_CONFIG, then ./mailsh.toml if present."""
    if path is not None:
        return path
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    local = Path.cwd() / CONFIG_FILENAME
    return local if local.exists() else None


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the config; with no file, the embedded local default."""
    env = os.environ if environ is None else environ
    found = find_config(path, env)
    if found is None:
        return parse_settings({}, "embedded default", Path.cwd())
    try:
        text = found.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"{found}: no such config file", hint="create it or unset MAILSH_CONFIG"
        ) from None
    except OSError as e:
        raise ConfigError(f"{found}: cannot read: {e.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{found}: not valid TOML: {e}") from None
    return parse_settings(data, str(found), found.resolve().parent)


def secret(settings_value: str | None, environ: Mapping[str, str], what: str) -> str:
    """Read a secret from the environment variable the config names."""
    if not settings_value:
        raise ConfigError(f"{what}: no environment variable is configured for the secret")
    value = environ.get(settings_value)
    if not value:
        raise ConfigError(
            f"{what}: environment variable {settings_value} is not set",
            hint=f"export {settings_value}=...",
        )
    return value
