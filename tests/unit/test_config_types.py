"""One `host:port` parser for every address in the config (IPv6 literals in brackets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provision.config import parse_settings
from provision.config_types import join_host_port, parse_host_port, split_host_port
from provision.deliverability.lookup import make_resolver
from provision.deliverability.target import Endpoint
from provision.dns.authoritative import parse_servers
from provision.errors import ConfigError
from provision.render import render_configs


def _error(data: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as e:
        parse_settings(data, "mailsh.toml", Path("/"))
    return str(e.value)


def test_a_name_and_port_are_split() -> None:
    assert parse_host_port("ns1.example.org:5353") == ("ns1.example.org", 5353)


def test_an_ipv6_literal_in_brackets_has_its_port() -> None:
    assert parse_host_port("[2001:db8::53]:53") == ("2001:db8::53", 53)


def test_an_ipv6_literal_in_brackets_may_have_no_port() -> None:
    assert parse_host_port("[::1]") == ("::1", None)


def test_a_bare_ipv6_address_is_a_host_without_port() -> None:
    assert parse_host_port("2001:db8::53") == ("2001:db8::53", None)


def test_an_address_without_port_takes_the_default() -> None:
    assert split_host_port("smtp.example.net", 587) == ("smtp.example.net", 587)


@pytest.mark.parametrize("value", ["host:0", "host:65536", "host:smtp", "host:", ":25"])
def test_a_port_that_is_no_port_number_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="is not host:port"):
        parse_host_port(value)


@pytest.mark.parametrize("value", ["[::1", "[::1]53", "[]:53"])
def test_a_malformed_bracketed_address_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="is not host:port"):
        parse_host_port(value)


def test_an_ipv6_host_is_joined_in_brackets() -> None:
    assert join_host_port("2001:db8::25", 25) == "[2001:db8::25]:25"


def test_an_ipv6_nameserver_in_brackets_is_asked_on_its_port() -> None:
    settings = parse_settings({"dns": {"nameservers": ["[::1]:5353"]}}, "t", Path("/"))
    assert parse_servers(list(settings.dns.nameservers)) == [("::1", 5353)]


def test_a_client_address_that_is_not_host_port_names_the_key() -> None:
    assert "client.smtp" in _error({"client": {"smtp": "smtp.example.net:submission"}})


def test_an_ipv6_resolver_may_carry_a_port() -> None:
    resolver = make_resolver(["[::1]:5353"], timeout=1.0)
    assert (resolver.nameservers, resolver.port) == (["::1"], 5353)


def test_an_ipv6_endpoint_reads_and_prints_in_brackets() -> None:
    endpoint = Endpoint.parse("[2001:db8::25]:25")
    assert (endpoint.host, endpoint.port, str(endpoint)) == (
        "2001:db8::25",
        25,
        "[2001:db8::25]:25",
    )


def test_the_renewer_gets_the_nameservers_as_host_and_port(tmp_path: Path) -> None:
    data = {
        "domain": "example.org",
        "tls": {"mode": "acme"},
        "acme": {"agree_tos": True},
        "dns": {
            "provider": "rfc2136",
            "rfc2136": {"server": "ns1.example.org", "key_name": "k"},
            "nameservers": ["192.0.2.53:53", "[2001:db8::53]:5353"],
        },
    }
    renewal = json.loads(render_configs(parse_settings(data, "t", tmp_path))["mailsh/renewal.json"])
    assert renewal["nameservers"] == [["192.0.2.53", 53], ["2001:db8::53", 5353]]
