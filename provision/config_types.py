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
# Docker's image reference grammar (distribution/reference): [host[:port]/]path[:tag][@digest]
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_IMAGE_HOST = rf"(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*(?::[0-9]+)?/)?"
_IMAGE_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REPOSITORY = rf"{_IMAGE_HOST}{_IMAGE_PART}(?:/{_IMAGE_PART})*"
_IMAGE_TAG = r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
_IMAGE_DIGEST = r"(?:@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?"


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


def email_address(value: str) -> str:
    """`value` as an e-mail address (its domain lower-cased); ValueError when it is not one."""
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


def image_reference(value: str, tag: bool = True, digest: bool = True) -> str:
    """`value` as a Docker image reference (`tag`/`digest`: whether it may carry them)."""
    pattern = _IMAGE_REPOSITORY + (_IMAGE_TAG if tag else "") + (_IMAGE_DIGEST if digest else "")
    if len(value) > 255 or not re.fullmatch(pattern, value):
        example = "mailsh/base:bookworm" if tag else "mailsh or registry.example.org/mailsh"
        raise ValueError(f"{value!r} is not a Docker image name (like {example}; lower case)")
    return value


def _image_repository(value: str) -> str:
    return image_reference(value, tag=False, digest=False)


def ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


DomainName = Annotated[str, AfterValidator(_domain_name)]
ZoneName = Annotated[str, AfterValidator(_zone_name)]
Email = Annotated[str, AfterValidator(email_address)]
Fingerprint = Annotated[str, AfterValidator(_fingerprint)]
UnixUser = Annotated[str, AfterValidator(_unix_user)]
RunAsUser = Annotated[str, AfterValidator(_run_as_user)]
EnvName = Annotated[str, AfterValidator(_env_name)]
IpAddress = Annotated[str, AfterValidator(ip_address)]
ImageReference = Annotated[str, AfterValidator(image_reference)]
ImageRepository = Annotated[str, AfterValidator(_image_repository)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


HOST_PORT_EXAMPLE = "like 192.0.2.53:53 or [2001:db8::53]:53"


def parse_host_port(value: str) -> tuple[str, int | None]:
    """The host and port of "host:port" or "[IPv6]:port"; the port is None for "host",
    "[IPv6]" or a bare IPv6 address. ValueError when it is none of those."""
    if value.startswith("["):
        host, closed, rest = value[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError(f"{value!r} is not host:port ({HOST_PORT_EXAMPLE})")
        port = rest[1:] if rest else None
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, None  # a name, or an IPv6 address without a port
    if not host or (port is not None and not (port.isdigit() and 0 < int(port) < 65536)):
        raise ValueError(f"{value!r} is not host:port ({HOST_PORT_EXAMPLE})")
    return host, int(port) if port is not None else None


def split_host_port(value: str, default_port: int) -> tuple[str, int]:
    """The host and port of `value`, `default_port` when it names none."""
    host, port = parse_host_port(value)
    return host, default_port if port is None else port


def join_host_port(host: str, port: int) -> str:
    """`host:port`, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _host_port(value: str) -> str:
    if parse_host_port(value)[1] is None:
        raise ValueError(f"{value!r} is not host:port ({HOST_PORT_EXAMPLE})")
    return value


def _host_optional_port(value: str) -> str:
    parse_host_port(value)
    return value


def _ip_optional_port(value: str) -> str:
    ip_address(parse_host_port(value)[0])
    return value


HostPort = Annotated[str, AfterValidator(_host_port)]
HostOptionalPort = Annotated[str, AfterValidator(_host_optional_port)]
IpOptionalPort = Annotated[str, AfterValidator(_ip_optional_port)]
