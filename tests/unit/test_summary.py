"""What `invoke provision` prints: text from errors, banners and IPv6 binds is shown as it
is, never read as rich markup."""

from __future__ import annotations

import io
from pathlib import Path

from provision.config import parse_settings
from provision.console import console
from provision.deploy import ContainerAction, ProvisionResult
from provision.dns.publish import DnsReport
from provision.engine import Engine
from provision.errors import ConfigError
from provision.fleet import Server, ServerOutcome
from provision.state import StateDir, ensure_dkim_key
from provision.summary import Provisioned, print_provisioned


def _printed(outcomes: list[ServerOutcome[Provisioned]]) -> str:
    buffer = io.StringIO()
    print_provisioned(outcomes, console(file=buffer, width=200))
    return buffer.getvalue()


def _server(name: str, bind: str = "127.0.0.1") -> Server:
    data = {"container_name": name, "ports": {"bind": bind}}
    return Server(None, parse_settings(data, "test", Path("/tmp")))


def _provisioned(server: Server, banner: str, tmp_path: Path) -> ServerOutcome[Provisioned]:
    dkim, _ = ensure_dkim_key(StateDir(tmp_path), "mail", 1024)
    result = ProvisionResult(ContainerAction.CREATED, False, "c0ffee", banner, dkim)
    done = Provisioned(server.settings, Engine(None, "default"), result, DnsReport("manual", []))
    return ServerOutcome(server, done)


def test_an_error_with_brackets_is_printed_as_it_is_in_the_fleet_table(tmp_path: Path) -> None:
    error = ConfigError("a.toml: [acme] ca_bundle: no such file /srv/[x]/ca.pem [/x]")
    outcomes = [
        ServerOutcome(_server("one"), error=error),
        _provisioned(_server("two"), "ok", tmp_path),
    ]
    printed = " ".join(_printed(outcomes).split())
    assert "[acme] ca_bundle" in printed
    assert "[/x]" in printed


def test_one_failed_server_prints_no_table_the_error_line_follows() -> None:
    error = ConfigError("postfix reload failed")
    assert _printed([ServerOutcome(_server("one"), error=error)]) == ""


def test_an_ipv6_bind_and_a_banner_with_brackets_are_shown_whole(tmp_path: Path) -> None:
    server = _server("one", bind="::1")
    printed = _printed([_provisioned(server, "mail.example ESMTP [mailsh] [/]", tmp_path)])
    assert "smtp      [::1]:2525 -> 25" in printed
    assert "banner    mail.example ESMTP [mailsh] [/]" in printed
