from __future__ import annotations

from pathlib import Path

import pytest

from provision.config import parse_settings
from provision.deliverability.lookup import make_resolver
from provision.deliverability.settings import DEFAULT_DNSBL_ZONES
from provision.deliverability.target import Endpoint, target_from_settings
from provision.errors import ConfigError


def test_defaults_use_the_system_resolver_and_the_public_blocklists(tmp_path: Path) -> None:
    settings = parse_settings({}, "t", tmp_path)
    assert settings.deliverability.resolvers == []
    assert tuple(settings.deliverability.dnsbl_zones) == DEFAULT_DNSBL_ZONES


def test_a_bad_resolver_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        parse_settings({"deliverability": {"resolvers": ["ns.example.org"]}}, "t", tmp_path)
    assert "deliverability" in str(e.value)


def test_a_bad_probe_address_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        parse_settings({"deliverability": {"outbound_probe": "mx.example.org"}}, "t", tmp_path)
    assert "deliverability.outbound_probe" in str(e.value)


def test_checks_connect_to_the_published_ports_by_default(tmp_path: Path) -> None:
    everywhere = "0.0.0.0"  # noqa: S104 - the setting under test
    settings = parse_settings(
        {"ports": {"bind": everywhere, "smtp": 25, "https": 443}}, "t", tmp_path
    )
    target = target_from_settings(settings)
    assert (target.smtp, target.https) == (Endpoint("127.0.0.1", 25), Endpoint("127.0.0.1", 443))
    assert target.dkim_public_b64 is None


def test_configured_addresses_replace_the_published_ports(tmp_path: Path) -> None:
    settings = parse_settings(
        {"deliverability": {"smtp": "192.0.2.25:25", "https": "192.0.2.25:443"}}, "t", tmp_path
    )
    target = target_from_settings(settings)
    assert target.smtp == Endpoint("192.0.2.25", 25)


def test_resolver_addresses_may_carry_a_port() -> None:
    resolver = make_resolver(["127.0.0.1:5353"], timeout=1.0)
    assert (resolver.nameservers, resolver.port) == (["127.0.0.1"], 5353)
