from __future__ import annotations

from pathlib import Path

import pytest

from provision.config import parse_settings
from provision.dns.publish import provision_dns, records_to_publish, report_lines
from provision.errors import ConfigError
from provision.state import StateDir, ensure_dkim_key


def _error(data: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as e:
        parse_settings(data, "mailsh.toml", Path("/"))
    return str(e.value)


def test_rfc2136_provider_needs_its_section() -> None:
    assert 'dns: provider = "rfc2136" needs a [dns.rfc2136] section' in _error(
        {"dns": {"provider": "rfc2136"}}
    )


def test_unknown_duckdns_txt_choice_names_the_key() -> None:
    assert "dns.duckdns.txt" in _error({"dns": {"duckdns": {"txt": "mta-sts"}}})


def test_nameserver_without_port_names_the_key() -> None:
    assert "dns.nameservers.0: '10.0.0.1' is not host:port" in _error(
        {"dns": {"nameservers": ["10.0.0.1"]}}
    )


def test_ipv6_address_in_ip_is_refused() -> None:
    assert "ip must be an IPv4 address" in _error({"dns": {"ip": "2001:db8::1"}})


def test_provision_without_auto_shows_the_zone_fragment(tmp_path: Path) -> None:
    settings = parse_settings(
        {"domain": "example.org", "dns": {"provider": "duckdns"}}, "t", tmp_path
    )
    dkim, _ = ensure_dkim_key(StateDir(tmp_path), "mail", 1024)
    report = provision_dns(settings, dkim, {}, print)
    assert report == records_to_publish(settings, dkim)
    spf = [line.split() for line in report_lines(report) if "v=spf1" in line and line[0] != ";"]
    assert spf == [
        ["example.org.", "300", "IN", "TXT", '"v=spf1', "a", "mx", '-all"'],
        ["mail.example.org.", "300", "IN", "TXT", '"v=spf1', "a", '-all"'],
    ]
