from __future__ import annotations

from pathlib import Path

import pytest

from provision.config import parse_settings
from provision.dkim import load_selectors
from provision.dkim_rotate import rotate_dkim
from provision.errors import DnsError, MailshError
from provision.state import StateDir


def test_rotation_is_refused_where_one_txt_serves_every_name(tmp_path: Path) -> None:
    settings = parse_settings(
        {"domain": "me.duckdns.org", "state_dir": str(tmp_path), "dns": {"provider": "duckdns"}},
        "t",
        tmp_path,
    )
    with pytest.raises(MailshError, match="old DKIM key could not stay published"):
        rotate_dkim(settings, {}, print)
    assert list(tmp_path.iterdir()) == []


def test_manual_rotation_shows_the_record_to_add_and_keeps_signing_with_the_old_key(
    tmp_path: Path,
) -> None:
    dns = {"nameservers": ["127.0.0.1:9"], "propagation_timeout_s": 0}
    settings = parse_settings(
        {"domain": "example.org", "state_dir": str(tmp_path), "dns": dns}, "t", tmp_path
    )
    with pytest.raises(MailshError) as e:
        rotate_dkim(settings, {}, print)
    selectors = load_selectors(StateDir(tmp_path), "mail")
    assert selectors.signing == "mail" and selectors.pending is not None
    assert f"{selectors.pending}._domainkey.example.org. 300 IN TXT" in str(e.value)
    assert "run `invoke dkim-rotate` again" in str(e.value)


def test_manual_rotation_shows_the_record_also_when_no_zone_holds_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_zone(name: str, _nameservers: object) -> None:
        raise DnsError(f"cannot find the authoritative servers of {name}: no DNS zone holds it")

    monkeypatch.setattr("provision.dkim_rotate.authoritative_servers", no_zone)
    settings = parse_settings({"domain": "example.org", "state_dir": str(tmp_path)}, "t", tmp_path)
    with pytest.raises(MailshError) as e:
        rotate_dkim(settings, {}, print)
    assert "no DNS zone holds it" in str(e.value)
    assert "._domainkey.example.org. 300 IN TXT" in str(e.value)
