"""`invoke dns-update` against the lab BIND (rfc2136) and the lab DuckDNS API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.resolver
import pytest
import tomli_w

from provision.config import load_settings
from provision.dns.provider import Record, Slot
from provision.dns.publish import mail_records, provision_dns, update_dns
from provision.dns.records import MailRecord
from provision.dns.rfc2136 import Rfc2136Provider
from provision.state import StateDir, ensure_dkim_key
from tests.lab.bind import PRIVATE_TLD, LabDns
from tests.lab.docker_lab import free_port
from tests.lab.duckdns import LabDuckDns
from tests.lab.zones import LabZones, txt

ROOT = Path(__file__).resolve().parents[2]
TSIG_ENV = "MAILSH_LAB_TSIG"
TOKEN_ENV = "MAILSH_LAB_DUCKDNS_TOKEN"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def _config(tmp: Path, domain: str, dns_table: dict[str, Any], **dns_extra: Any) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "mailsh.toml"
    data = {
        "domain": domain,
        "state_dir": str(tmp / "state"),
        "dns": {**dns_table, "ip": "192.0.2.25", **dns_extra},
    }
    path.write_text(tomli_w.dumps(data))
    return path


def _dns_update(config: Path, env: dict[str, str], *args: str) -> Run:
    command = [sys.executable, "-m", "invoke", "-r", str(ROOT), "dns-update"]
    proc = subprocess.run(
        [*command, "--config", str(config), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MAILSH_DEBUG": "", **env},
        timeout=120,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def _desired(config: Path) -> list[MailRecord]:
    return mail_records(load_settings(config, {}), lambda _: None)


def _answer(resolver: dns.resolver.Resolver, name: str, rtype: str) -> tuple[str, ...]:
    try:
        answer = resolver.resolve(name, rtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return ()
    if rtype == "TXT":
        return tuple(sorted(b"".join(r.strings).decode() for r in answer))
    return tuple(sorted(r.to_text() for r in answer))


def _serial(lab_dns: LabDns, zone: str = "mailsh.test") -> int:
    return int(next(iter(lab_dns.resolver().resolve(zone, "SOA"))).serial)


def _one_line_error(run: Run) -> str:
    assert run.code == 1, run
    lines = run.stderr.strip().splitlines()
    assert lines[-1].startswith("mailsh: ") and "Traceback" not in run.stderr, run.stderr
    return lines[-1]


@pytest.fixture(scope="module")
def tsig_env(lab_dns: LabDns) -> dict[str, str]:
    return {TSIG_ENV: lab_dns.tsig_secret}


@dataclass
class Published:
    config: Path
    run: Run
    serial_before: int
    serial_after: int


@pytest.fixture(scope="module")
def published(
    lab_dns: LabDns, tsig_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Published:
    """update.mailsh.test published once through rfc2136."""
    config = _config(
        tmp_path_factory.mktemp("update"), "update.mailsh.test", lab_dns.dns_config("mailsh.test")
    )
    before = _serial(lab_dns)
    run = _dns_update(config, tsig_env)
    return Published(config, run, before, _serial(lab_dns))


def test_rfc2136_publishes_every_record_as_desired(lab_dns: LabDns, published: Published) -> None:
    assert published.run.code == 0, published.run.stderr
    resolver = lab_dns.resolver()
    desired = _desired(published.config)
    assert len(desired) == 11
    for m in desired:
        assert _answer(resolver, m.record.name, m.record.rtype) == m.record.values, m.kind
    assert "9 added" in published.run.stdout


def test_nine_new_records_move_the_soa_serial_by_exactly_one(published: Published) -> None:
    assert published.run.code == 0, published.run.stderr
    assert published.serial_after == published.serial_before + 1


class InterferingProvider(Rfc2136Provider):
    """The lab zone's provider; someone else edits the zone between our read and write."""

    def __init__(self, lab_dns: LabDns, interfere: dict[tuple[str, str], list[str]]) -> None:
        super().__init__(
            lab_dns.host,
            lab_dns.port,
            "mailsh.test",
            lab_dns.tsig_name,
            lab_dns.tsig_secret,
            lab_dns.tsig_algorithm,
        )
        self.zones = LabZones(lab_dns)
        self.interfere = interfere

    def apply(self, records: Sequence[Record], expected: Mapping[Slot, tuple[str, ...]]) -> None:
        if self.interfere:
            self.zones.apply(self.interfere)
            self.interfere = {}
        super().apply(records, expected)


def test_change_made_between_read_and_write_is_refused_then_retried_keeping_both(
    lab_dns: LabDns, tsig_env: dict[str, str], tmp_path: Path
) -> None:
    domain = "race.mailsh.test"
    config = _config(tmp_path, domain, lab_dns.dns_config("mailsh.test"))
    settings = load_settings(config, {})
    theirs = "site-verification=42"
    provider = InterferingProvider(lab_dns, {(domain, "TXT"): [txt(theirs)]})
    report = update_dns(settings, tsig_env, lambda _: None, provider=provider)
    assert report.attempts == 2
    resolver = lab_dns.resolver()
    assert _answer(resolver, domain, "TXT") == (theirs, "v=spf1 mx -all")
    for m in _desired(config):
        if m.kind != "SPF":
            assert _answer(resolver, m.record.name, m.record.rtype) == m.record.values, m.kind


def test_second_run_reports_unchanged_and_sends_no_update(
    lab_dns: LabDns, tsig_env: dict[str, str], published: Published
) -> None:
    config = published.config
    before = _serial(lab_dns)
    run = _dns_update(config, tsig_env)
    assert run.code == 0, run.stderr
    assert "everything unchanged, no update sent" in run.stdout
    assert run.stdout.count("= unchanged") == 9
    assert _serial(lab_dns) == before


def test_changed_setting_is_reported_and_applied(
    lab_dns: LabDns, tsig_env: dict[str, str], tmp_path: Path
) -> None:
    table = lab_dns.dns_config("mailsh.test")
    first = _dns_update(_config(tmp_path, "change.mailsh.test", table), tsig_env)
    assert first.code == 0, first.stderr
    changed = _config(tmp_path, "change.mailsh.test", table, dmarc_policy="reject")
    run = _dns_update(changed, tsig_env)
    assert run.code == 0, run.stderr
    assert "~ changed   DMARC    _dmarc.change.mailsh.test TXT" in run.stdout
    assert _answer(lab_dns.resolver(), "_dmarc.change.mailsh.test", "TXT") == (
        "v=DMARC1; p=reject; rua=mailto:postmaster@change.mailsh.test",
    )


def test_dry_run_shows_the_diff_and_changes_nothing(
    lab_dns: LabDns, tsig_env: dict[str, str], tmp_path: Path
) -> None:
    config = _config(tmp_path, "dry.mailsh.test", lab_dns.dns_config("mailsh.test"))
    before = _serial(lab_dns)
    run = _dns_update(config, tsig_env, "--dry-run")
    assert run.code == 0, run.stderr
    assert "+ added     MX       dry.mailsh.test MX" in run.stdout
    assert "dry run, nothing changed (9 added)" in run.stdout
    assert _serial(lab_dns) == before
    assert _answer(lab_dns.resolver(), "dry.mailsh.test", "MX") == ()


def test_tsig_key_the_server_refuses_is_a_one_line_error(lab_dns: LabDns, tmp_path: Path) -> None:
    config = _config(tmp_path, "badkey.mailsh.test", lab_dns.dns_config("mailsh.test"))
    run = _dns_update(config, {TSIG_ENV: "d3Jvbmcgc2VjcmV0IGZvciB0aGUgbGFi"})
    assert "rejected the TSIG signature" in _one_line_error(run)
    assert _answer(lab_dns.resolver(), "badkey.mailsh.test", "MX") == ()


def test_wrong_tsig_secret_exits_1_even_when_nothing_needs_to_change(
    lab_dns: LabDns, published: Published
) -> None:
    run = _dns_update(published.config, {TSIG_ENV: "d3Jvbmcgc2VjcmV0IGZvciB0aGUgbGFi"})
    assert "rejected the TSIG signature" in _one_line_error(run)


def test_wrong_tsig_secret_exits_1_on_a_dry_run(lab_dns: LabDns, published: Published) -> None:
    run = _dns_update(published.config, {TSIG_ENV: "d3Jvbmcgc2VjcmV0IGZvciB0aGUgbGFi"}, "--dry-run")
    assert "rejected the TSIG signature" in _one_line_error(run)


def test_dry_run_on_an_empty_state_directory_leaves_it_empty(
    lab_dns: LabDns, tsig_env: dict[str, str], tmp_path: Path
) -> None:
    config = _config(tmp_path, "empty.mailsh.test", lab_dns.dns_config("mailsh.test"))
    state = tmp_path / "state"
    state.mkdir()
    run = _dns_update(config, tsig_env, "--dry-run")
    assert run.code == 0, run.stderr
    assert list(state.iterdir()) == []
    assert "+ added     DKIM     mail._domainkey.empty.mailsh.test TXT: (to be generated)" in (
        run.stdout
    )


def test_single_label_zone_is_updated(
    lab_dns: LabDns, tsig_env: dict[str, str], tmp_path: Path
) -> None:
    domain = f"mailsh.{PRIVATE_TLD}"
    config = _config(tmp_path, domain, lab_dns.dns_config(PRIVATE_TLD))
    before = _serial(lab_dns, PRIVATE_TLD)
    run = _dns_update(config, tsig_env)
    assert run.code == 0, run.stderr
    assert _answer(lab_dns.resolver(), domain, "MX") == (f"10 mail.{domain}.",)
    assert _serial(lab_dns, PRIVATE_TLD) == before + 1


def test_unreachable_server_is_a_one_line_error(
    lab_dns: LabDns, tsig_env: dict[str, str], tmp_path: Path
) -> None:
    table = lab_dns.dns_config("mailsh.test")
    table["rfc2136"]["port"] = free_port()
    run = _dns_update(_config(tmp_path, "down.mailsh.test", table), tsig_env)
    assert "unreachable" in _one_line_error(run)


def test_zone_that_does_not_contain_the_name_is_a_one_line_error(
    lab_dns: LabDns, tsig_env: dict[str, str], tmp_path: Path
) -> None:
    run = _dns_update(
        _config(tmp_path, "zone.mailsh.test", lab_dns.dns_config("client.test")), tsig_env
    )
    assert "is not in zone client.test" in _one_line_error(run)


def test_missing_secret_is_a_one_line_error(lab_dns: LabDns, tmp_path: Path) -> None:
    config = _config(tmp_path, "nosecret.mailsh.test", lab_dns.dns_config("mailsh.test"))
    run = _dns_update(config, {TSIG_ENV: ""})
    assert f"environment variable {TSIG_ENV} is not set" in _one_line_error(run)


@pytest.fixture(scope="module")
def duck_published(
    lab_duckdns: LabDuckDns, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Run]:
    config = _config(
        tmp_path_factory.mktemp("duck"), "mailsh.duckdns.test", lab_duckdns.dns_config()
    )
    return config, _dns_update(config, {TOKEN_ENV: lab_duckdns.token})


def test_duckdns_wrong_token_exits_1_even_when_nothing_needs_to_change(
    duck_published: tuple[Path, Run],
) -> None:
    config, first = duck_published
    assert first.code == 0, first.stderr
    run = _dns_update(config, {TOKEN_ENV: "not-the-token"})
    assert "refused (KO)" in _one_line_error(run)


def test_duckdns_publishes_the_address_and_the_chosen_txt(
    lab_duckdns: LabDuckDns, duck_published: tuple[Path, Run]
) -> None:
    config, run = duck_published
    assert run.code == 0, run.stderr
    dkim = next(m for m in _desired(config) if m.kind == "DKIM").record.values
    resolver = lab_duckdns.dns.resolver()
    assert _answer(resolver, "mail.mailsh.duckdns.test", "A") == ("192.0.2.25",)
    assert _answer(resolver, "mail._domainkey.mailsh.duckdns.test", "TXT") == dkim
    assert _answer(resolver, "_dmarc.mailsh.duckdns.test", "TXT") == dkim


def test_duckdns_report_names_what_could_not_be_published(
    duck_published: tuple[Path, Run],
) -> None:
    _, run = duck_published
    dropped = [line for line in run.stdout.splitlines() if line.startswith("! not published")]
    names = {line.split()[3] for line in dropped}
    assert names == {
        "mailsh.duckdns.test",  # MX and SPF
        "mail.mailsh.duckdns.test",  # the HELO name's SPF
        "_dmarc.mailsh.duckdns.test",
        "_mta-sts.mailsh.duckdns.test",
        "_smtp._tls.mailsh.duckdns.test",
    }
    assert len(dropped) == 6
    assert any("no DMARC policy" in line for line in dropped)


def test_duckdns_wrong_token_is_a_clear_error_and_changes_nothing(
    lab_duckdns: LabDuckDns, duck_published: tuple[Path, Run], tmp_path: Path
) -> None:
    config, _ = duck_published
    text = config.read_text().replace('ip = "192.0.2.25"', 'ip = "192.0.2.26"')
    other = tmp_path / "mailsh.toml"
    other.write_text(text)
    run = _dns_update(other, {TOKEN_ENV: "not-the-token"})
    assert "refused (KO)" in _one_line_error(run)
    resolver = lab_duckdns.dns.resolver()
    assert _answer(resolver, "mail.mailsh.duckdns.test", "A") == ("192.0.2.25",)


def test_provision_with_auto_publishes_through_the_provider(
    lab_dns: LabDns, tsig_env: dict[str, str], tmp_path: Path
) -> None:
    config = _config(tmp_path, "auto.mailsh.test", lab_dns.dns_config("mailsh.test"), auto=True)
    settings = load_settings(config, {})
    ensure_dkim_key(StateDir(settings.state_dir), "mail", 2048)
    report = provision_dns(settings, tsig_env, lambda _: None)
    assert report.zone_fragment is None and len(report.sent) == 9
    assert _answer(lab_dns.resolver(), "auto.mailsh.test", "MX") == ("10 mail.auto.mailsh.test.",)
