from __future__ import annotations

import json
import re
from pathlib import Path

from provision.config import parse_settings
from provision.render import render_configs, render_dockerfile


def _settings(**data: object):  # type: ignore[no-untyped-def]
    return parse_settings(data, "test", Path("/tmp"))


def test_postfix_names_the_configured_host_and_domain() -> None:
    main_cf = render_configs(_settings(domain="example.org", hostname="mx.example.org"))[
        "postfix/main.cf"
    ]
    assert "myhostname = mx.example.org\n" in main_cf
    assert "mydomain = example.org\n" in main_cf


def test_postfix_trusts_only_the_container_itself() -> None:
    main_cf = render_configs(_settings())["postfix/main.cf"]
    assert "mynetworks = 127.0.0.0/8\n" in main_cf
    assert "reject_unauth_destination" in main_cf


def test_locally_generated_mail_goes_through_the_dkim_milter() -> None:
    main_cf = render_configs(_settings())["postfix/main.cf"]
    assert "non_smtpd_milters = $smtpd_milters" in main_cf


def test_every_postfix_service_runs_without_chroot() -> None:
    master = render_configs(_settings())["postfix/master.cf"]
    services = [line.split() for line in master.splitlines() if line and line[0].isalpha()]
    assert services
    assert all(fields[4] == "n" for fields in services)


def test_opendkim_signs_the_domain_with_the_selector() -> None:
    files = render_configs(_settings(domain="example.org", dkim={"selector": "s2026"}))
    assert files["opendkim/KeyTable"].strip() == (
        "s2026._domainkey.example.org example.org:s2026:/etc/opendkim/keys/s2026.private"
    )
    assert "*@example.org s2026._domainkey.example.org" in files["opendkim/SigningTable"]


def test_relay_settings_name_no_secret() -> None:
    files = render_configs(
        _settings(relay={"host": "smtp.example.net", "username": "u", "password_env": "RELAY_PW"})
    )
    assert "relayhost = [smtp.example.net]:587" in files["postfix/main.cf"]
    assert "RELAY_PW" not in "".join(files.values())


def test_message_size_limit_follows_the_config() -> None:
    main_cf = render_configs(_settings(smtp={"max_message_mb": 3}))["postfix/main.cf"]
    assert f"message_size_limit = {3 * 1024 * 1024}\n" in main_cf


def test_server_settings_carry_the_request_rules() -> None:
    files = render_configs(_settings(domain="example.org", requests={"timeout_s": 5}))
    server = json.loads(files["mailsh/server.json"])
    assert server["recipient"] == "root@example.org"
    assert server["timeout_s"] == 5


def test_dockerfile_starts_from_the_configured_base_and_holds_no_config() -> None:
    dockerfile = render_dockerfile("mailsh/base:bookworm")
    assert dockerfile.splitlines()[3] == "FROM mailsh/base:bookworm"
    assert "main.cf" not in dockerfile.replace("rm -f /etc/postfix/main.cf", "")
    # No key goes in: the one private path named is the snakeoil key it removes.
    removed = "rm -f /etc/ssl/private/ssl-cert-snakeoil.key"
    assert removed in dockerfile
    assert "private" not in dockerfile.replace(removed, "")


def test_local_mode_keeps_exactly_what_postfix_does_not_deliver_locally() -> None:
    files = render_configs(_settings(domain="example.org", hostname="mx.example.org"))
    destinations = next(
        line.split("=", 1)[1].strip()
        for line in files["postfix/main.cf"].splitlines()
        if line.startswith("mydestination")
    )
    assert destinations.split(", ") == [
        "mx.example.org",
        "localhost.example.org",
        "localhost",
        "example.org",
    ]
    pattern = files["postfix/catch_replies"].splitlines()[-1]
    assert all(re.escape(d) in pattern for d in destinations.split(", "))


def test_opendkim_signs_with_the_selector_a_rotation_made_current() -> None:
    files = render_configs(_settings(domain="example.org"), "mail-20261024")
    assert "mail-20261024._domainkey.example.org" in files["opendkim/SigningTable"]
    assert "/etc/opendkim/keys/mail-20261024.private" in files["opendkim/KeyTable"]
