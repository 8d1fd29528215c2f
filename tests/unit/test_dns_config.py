from __future__ import annotations

from pathlib import Path

import pytest

from provision.config import parse_settings
from provision.dns.publish import provision_dns, report_lines, update_dns
from provision.errors import ConfigError
from provision.state import StateDir, ensure_dkim_key

RFC2136 = {"server": "127.0.0.1", "key_name": "k"}


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
        {"domain": "example.org", "dns": {"provider": "rfc2136", "rfc2136": RFC2136}}, "t", tmp_path
    )
    ensure_dkim_key(StateDir(tmp_path), "mail", 1024)
    report = provision_dns(settings, {}, print)
    assert report.zone_fragment is not None and not report.sent
    spf = [line.split() for line in report_lines(report) if "v=spf1" in line and line[0] != ";"]
    assert spf == [
        ["example.org.", "300", "IN", "TXT", '"v=spf1', "mx", '-all"'],
        ["mail.example.org.", "300", "IN", "TXT", '"v=spf1', "a", '-all"'],
    ]


def test_single_label_zone_is_accepted_for_rfc2136() -> None:
    rfc2136 = {**RFC2136, "zone": "test"}
    settings = parse_settings(
        {"domain": "mailsh.test", "dns": {"provider": "rfc2136", "rfc2136": rfc2136}},
        "t",
        Path("/"),
    )
    assert settings.dns.rfc2136 is not None and settings.dns.rfc2136.zone == "test"


def test_unknown_provider_names_the_known_ones() -> None:
    assert "known: rfc2136, duckdns, manual" in _error({"dns": {"provider": "route53"}})


def test_dry_run_on_an_empty_state_directory_leaves_it_empty(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    settings = parse_settings({"domain": "example.org", "state_dir": str(state)}, "t", tmp_path)
    report = update_dns(settings, {}, print, dry_run=True)
    assert list(state.iterdir()) == []
    dkim = next(line for line in report_lines(report) if "._domainkey." in line)
    assert "(to be generated)" in dkim


def test_provision_printing_records_writes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    settings = parse_settings({"domain": "example.org", "state_dir": str(state)}, "t", tmp_path)
    provision_dns(settings, {}, print)
    assert not state.exists()
