"""The MTA-STS policy: its text, its id, and where caddy serves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provision.config import Settings, parse_settings
from provision.dkim import DkimRecordValue
from provision.dns.provider import Capabilities
from provision.dns.records import desired_records, mta_sts_policy
from provision.render import render_configs, site_names
from provision.state import StateDir, ensure_dkim_key

POLICY_FILE = "caddy/mta-sts.txt"


def settings(**data: Any) -> Settings:
    return parse_settings({"domain": "example.org", **data}, "test", Path("/"))


def test_policy_names_mode_mx_and_max_age() -> None:
    text = mta_sts_policy(settings(mta_sts={"mode": "enforce", "mx": ["mx1.example.org"]}))
    assert text == "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmax_age: 604800\r\n"


def test_policy_mx_defaults_to_the_hostname() -> None:
    assert "mx: mail.example.org\r\n" in mta_sts_policy(settings())


def test_caddy_serves_the_policy_file_on_the_mta_sts_host() -> None:
    s = settings()
    files = render_configs(s)
    assert files[POLICY_FILE] == mta_sts_policy(s)
    assert "https://mta-sts.example.org:443 {" in files["caddy/Caddyfile"]
    assert site_names(s) == ["mail.example.org", "mta-sts.example.org"]


def test_disabled_mta_sts_leaves_host_certificate_and_policy_out() -> None:
    s = settings(mta_sts={"enabled": False})
    files = render_configs(s)
    assert POLICY_FILE not in files
    assert "mta-sts" not in files["caddy/Caddyfile"]
    assert site_names(s) == ["mail.example.org"]


def test_disabled_mta_sts_publishes_no_mta_sts_record(tmp_path: Path) -> None:
    dkim, _ = ensure_dkim_key(StateDir(tmp_path), "mail", 1024)
    dkims = [DkimRecordValue("mail", dkim.txt_value)]
    records = desired_records(settings(mta_sts={"enabled": False}), dkims, Capabilities())
    kinds = [r.kind for r in records]
    assert "MTA-STS" not in kinds
