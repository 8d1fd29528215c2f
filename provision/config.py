"""Load and validate mailsh.toml (docs/ARCHITECTURE.md §2) into typed settings.

Secrets never live in the file: it names environment variables, and
`secret()` reads them from the `environ` passed in.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from provision.config_types import (
    DomainName,
    Email,
    EnvName,
    Fingerprint,
    HostOptionalPort,
    ImageReference,
    ImageRepository,
    IpAddress,
    Port,
    RunAsUser,
    Section,
)
from provision.deliverability.settings import DeliverabilitySettings
from provision.dns.settings import (
    DnsSettings,
    MtaStsSettings,
)
from provision.errors import ConfigError

DEFAULT_DOMAIN = "mailsh.localdomain"
CONFIG_ENV = "MAILSH_CONFIG"
CONFIG_FILENAME = "mailsh.toml"


ENGINE_SCHEMES = ("unix://", "ssh://", "tcp://", "http://", "https://")


def _engine_host(value: str) -> str:
    if not value.startswith(ENGINE_SCHEMES):
        schemes = ", ".join(ENGINE_SCHEMES)
        raise ValueError(f"{value!r} is not a Docker engine address ({schemes})")
    return value


class EngineSettings(Section):
    """`[engine]`: the Docker engine to drive, instead of DOCKER_HOST or the docker context
    (`host = "ssh://admin@vps.example.org"`, or `context = "vps"`)."""

    host: Annotated[str, AfterValidator(_engine_host)] | None = None
    context: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> EngineSettings:
        if self.host is not None and self.context is not None:
            raise ValueError("set host or context, not both")
        return self


class ImageSettings(Section):
    base: ImageReference = "debian:bookworm-slim"
    name: ImageRepository = "mailsh"  # tagged with the hash of the image's inputs


class PortSettings(Section):
    bind: IpAddress = "127.0.0.1"
    smtp: Port = 2525
    https: Port = 8443


class ContainerSettings(Section):
    """Limits of the whole container (Docker's mem_limit and pids_limit)."""

    memory_mb: Annotated[int, Field(ge=256)] = 2048
    pids: Annotated[int, Field(ge=128)] = 4096


class NetworkSettings(Section):
    """Where the container lives: an existing Docker network (with an optional fixed
    address on it) and the resolvers postfix uses (the lab points them at its BIND)."""

    docker_network: str | None = None
    ip: IpAddress | None = None
    dns: list[IpAddress] = Field(default_factory=list)


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


class RelaySettings(Section):
    host: str
    port: Port = 587
    username: str | None = None
    password_env: EnvName | None = None
    starttls: bool = True


class RequestSettings(Section):
    recipient: Email | None = None
    run_as: RunAsUser = "mailsh"
    timeout_s: Annotated[int, Field(ge=1, le=86400)] = 60
    max_output_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
    # A stream longer than this goes to an attachment, its first lines in the body.
    inline_output_bytes: Annotated[int, Field(ge=256)] = 16 * 1024
    # Limits of each command (ulimit), so one request cannot take the server down:
    # processes of the run_as user (all its requests together), address space,
    # size of a file it writes, CPU seconds (default: timeout_s).
    max_processes: Annotated[int, Field(ge=8, le=65536)] = 256
    max_memory_mb: Annotated[int, Field(ge=64)] = 1024
    max_file_mb: Annotated[int, Field(ge=1)] = 1024
    max_cpu_s: Annotated[int, Field(ge=1)] | None = None
    max_age_s: Annotated[int, Field(ge=10)] = 600
    reply_on_reject: bool = False
    require_binding: bool = False
    # None: keep replies in a local mailbox only in local mode (no relay,
    # self-signed TLS, manual DNS); see provision.render.catches_replies.
    catch_replies: bool | None = None


class TrustedKey(Section):
    fingerprint: Fingerprint
    run_as: RunAsUser | None = None
    reply_to: Email | None = None


class ClientSettings(Section):
    """`invoke send`: the signing key, and the user's own mail account for real use.

    With no `smtp`, requests go to the local server's published port; with no
    `imap`, `--wait` reads the reply from the local-mode reply mailbox.
    """

    key: str | None = None
    address: Email | None = None
    smtp: HostOptionalPort | None = None  # default port 587
    imap: HostOptionalPort | None = None  # default port 993
    username: str | None = None
    password_env: EnvName | None = None


class Settings(Section):
    """The whole validated configuration."""

    domain: DomainName = DEFAULT_DOMAIN
    hostname: DomainName | None = None
    admin_email: Email | None = None
    state_dir: Path = Path(".mailsh")
    container_name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")] = "mailsh"
    engine: EngineSettings = EngineSettings()
    image: ImageSettings = ImageSettings()
    ports: PortSettings = PortSettings()
    container: ContainerSettings = ContainerSettings()
    smtp: SmtpSettings = SmtpSettings()
    network: NetworkSettings = NetworkSettings()
    dkim: DkimSettings = DkimSettings()
    tls: TlsSettings = TlsSettings()
    acme: AcmeSettings = AcmeSettings()
    dns: DnsSettings = DnsSettings()
    mta_sts: MtaStsSettings = MtaStsSettings()
    relay: RelaySettings | None = None
    requests: RequestSettings = RequestSettings()
    keys: list[TrustedKey] = Field(default_factory=list)
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


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the section at `loc` accepts (empty when `loc` is not a section)."""
    model: Any = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        model = next(
            (
                a
                for a in (field.annotation, *getattr(field.annotation, "__args__", ()))
                if isinstance(a, type) and issubclass(a, Section)
            ),
            None,
        )
        if model is None:
            return []
    return sorted(model.model_fields)


def _format_error(err: ErrorDetails) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_keys(err["loc"][:-1])
        close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        listed = f" (known here: {', '.join(known)})" if known else ""
        return f"{where}: unknown key{guess}{listed}"
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
    for section in ("acme", "deliverability"):
        part = getattr(settings, section)
        if part.ca_bundle is None:
            continue
        bundle = base_dir / part.ca_bundle  # an absolute path stays as it is
        if not bundle.is_file():
            raise ConfigError(f"{source}: [{section}] ca_bundle: no such file {bundle}")
        update = {section: part.model_copy(update={"ca_bundle": bundle})}
        settings = settings.model_copy(update=update)
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
