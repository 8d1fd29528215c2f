from __future__ import annotations

from mailsh_server.install_config import CADDY_RELOAD, reload_commands

POSTFIX_RELOAD = ["postfix", "reload"]
OPENDKIM_RELOAD = ["supervisorctl", "signal", "USR1", "opendkim"]


def test_nothing_changed_reloads_nothing() -> None:
    assert reload_commands(set()) == []


def test_a_new_certificate_reloads_postfix_and_caddy_only() -> None:
    assert reload_commands({"tls"}) == [POSTFIX_RELOAD, CADDY_RELOAD]


def test_a_postfix_change_reloads_postfix_only() -> None:
    assert reload_commands({"postfix"}) == [POSTFIX_RELOAD]


def test_a_dkim_key_or_table_change_reloads_opendkim() -> None:
    assert reload_commands({"dkim"}) == [OPENDKIM_RELOAD]
    assert reload_commands({"opendkim"}) == [OPENDKIM_RELOAD]


def test_request_settings_alone_need_no_reload() -> None:
    assert reload_commands({"mailsh"}) == []


def test_supervisor_programs_are_reread_before_the_others() -> None:
    commands = reload_commands({"supervisor", "caddy"})
    assert commands[:2] == [["supervisorctl", "reread"], ["supervisorctl", "update"]]
    assert commands[2:] == [CADDY_RELOAD]
