"""Validated value types shared by the config sections (pydantic annotated types)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mailsh_server.protocol import run_as_problem

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


def _zone_name(value: str) -> str:
    """A zone: a domain name, or a single label (a private TLD such as `test`)."""
    name = value.strip().rstrip(".").lower()
    if _LABEL.match(name) and not name.isdigit():
        return name
    return _domain_name(value)


def _email(value: str) -> str:
    local, sep, domain = value.rpartition("@")
    if not sep or not local or any(c.isspace() for c in local):
        raise ValueError(f"{value!r} is not an e-mail address (like admin@example.org)")
    return f"{local}@{_domain_name(domain)}"


def normalize_fingerprint(value: str) -> str:
    """A fingerprint as gpg prints it: upper-case hex, no spaces."""
    return value.replace(" ", "").upper()


def _fingerprint(value: str) -> str:
    fpr = normalize_fingerprint(value)
    if not _FINGERPRINT.match(fpr):
        raise ValueError(f"{value!r} is not an OpenPGP fingerprint (40 or 64 hex digits)")
    return fpr


def _unix_user(value: str) -> str:
    if not _USER.match(value):
        raise ValueError(f"{value!r} is not a valid Unix user name")
    return value


def _run_as_user(value: str) -> str:
    problem = run_as_problem(_unix_user(value))
    if problem:
        raise ValueError(problem)
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


DomainName = Annotated[str, AfterValidator(_domain_name)]
ZoneName = Annotated[str, AfterValidator(_zone_name)]
Email = Annotated[str, AfterValidator(_email)]
Fingerprint = Annotated[str, AfterValidator(_fingerprint)]
UnixUser = Annotated[str, AfterValidator(_unix_user)]
RunAsUser = Annotated[str, AfterValidator(_run_as_user)]
EnvName = Annotated[str, AfterValidator(_env_name)]
IpAddress = Annotated[str, AfterValidator(ip_address)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _nameserver(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port (like 192.0.2.53:53)")
    return value


NameServer = Annotated[str, AfterValidator(_nameserver)]
HostPort = NameServer  # "host:port", validated the same way
