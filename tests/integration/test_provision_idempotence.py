"""`invoke provision` does only what changed: nothing, a reload, or a rebuild (issue: provision)."""

from __future__ import annotations

import smtplib
import tomllib

import tomli_w

from provision.container import docker_health, volume_name
from provision.deploy import ContainerAction
from provision.state import DkimKey
from tests.fixtures.server import ProvisionServer, RunningServer
from tests.lab.docker_lab import free_port
from tests.waiting import wait_for_output, wait_until


def _started_at(server: RunningServer) -> tuple[str, str, str]:
    container = server.container
    return container.id, container.attrs["State"]["StartedAt"], container.image.id


def _advertised_size(server: RunningServer) -> int:
    with smtplib.SMTP(*server.smtp, timeout=10) as smtp:
        smtp.ehlo("client.example")
        return int(smtp.esmtp_features["size"])


def _edit_config(server: RunningServer, section: str, key: str, value: object) -> None:
    config = tomllib.loads(server.config_path.read_text())
    config.setdefault(section, {})[key] = value
    server.config_path.write_text(tomli_w.dumps(config))


def test_second_provision_with_nothing_changed_neither_rebuilds_nor_restarts(
    provision_server: ProvisionServer,
) -> None:
    server = provision_server()
    before = _started_at(server)

    result = server.invoke("provision")

    assert result.returncode == 0, result.stderr
    assert "(unchanged)" in result.stdout
    assert "building image" not in result.stderr
    assert _started_at(server) == before


def test_config_only_change_is_live_without_rebuild_or_restart(
    provision_server: ProvisionServer,
) -> None:
    server = provision_server()
    before = _started_at(server)
    assert _advertised_size(server) == 10 * 1024 * 1024

    _edit_config(server, "smtp", "max_message_mb", 3)
    result = server.invoke("provision")

    assert result.returncode == 0, result.stderr
    assert f"({ContainerAction.RELOADED.value})" in result.stdout
    assert "building image" not in result.stderr
    assert _started_at(server) == before
    assert _advertised_size(server) == 3 * 1024 * 1024


def test_config_change_right_after_the_engine_restarted_the_container_is_reloaded(
    provision_server: ProvisionServer,
) -> None:
    # As when dockerd starts and brings back the container (restart policy) just before
    # `invoke provision`: postfix is not running yet, and `postfix reload` would fail.
    server = provision_server()
    server.container.restart(timeout=5)
    _edit_config(server, "smtp", "max_message_mb", 4)

    result = server.invoke("provision")

    assert result.returncode == 0, result.stderr
    assert f"({ContainerAction.RELOADED.value})" in result.stdout
    assert _advertised_size(server) == 4 * 1024 * 1024


def test_a_config_change_postfix_cannot_reload_restarts_the_container_with_it(
    provision_server: ProvisionServer,
) -> None:
    server = provision_server()

    def engine_says_healthy() -> bool:  # its first check runs 30 s after the start
        server.container.reload()
        return docker_health(server.container) == "healthy"

    wait_until(engine_says_healthy, 60, "the engine never found the container healthy")
    code, out = server.exec(["supervisorctl", "stop", "postfix"])
    assert code == 0, out
    _edit_config(server, "smtp", "max_message_mb", 5)

    result = server.invoke("provision")

    assert result.returncode == 0, result.stderr
    assert "postfix reload failed" in result.stderr and "not running" in result.stderr
    assert f"({ContainerAction.RESTARTED.value})" in result.stdout
    assert _advertised_size(server) == 5 * 1024 * 1024


def test_provision_after_down_reuses_the_dkim_key(provision_server: ProvisionServer) -> None:
    server = provision_server()
    key_line = f"dkim      mail key sha256:{server.result.dkim.fingerprint}"

    down = server.invoke("down")
    assert down.returncode == 0, down.stderr
    assert "removed container" in down.stderr
    again = server.invoke("provision")

    assert again.returncode == 0, again.stderr
    assert "(created)" in again.stdout
    assert key_line in again.stdout
    assert DkimKey("mail", server.state.dkim_key_file("mail").read_bytes()).fingerprint in key_line


def test_down_purge_needs_confirmation_and_then_deletes_the_state(
    provision_server: ProvisionServer,
) -> None:
    server = provision_server()

    refused = server.invoke("down", "--purge")
    assert refused.returncode == 1
    assert "--yes" in refused.stderr
    assert server.state.root.exists()

    done = server.invoke("down", "--purge", "--yes")
    assert done.returncode == 0, done.stderr
    assert not server.state.root.exists()
    names = {v.name for v in server.client.volumes.list()}
    assert not {volume_name(server.settings.container_name, r) for r in ("spool", "mail")} & names


def test_queued_mail_and_mailboxes_survive_a_re_created_container(
    provision_server: ProvisionServer,
) -> None:
    server = provision_server()
    to = f"postmaster@{server.settings.domain}"
    mailbox = ["cat", "/var/mail/mailadmin"]
    server.exec(["sh", "-c", f"printf 'Subject: kept 5e1d\\n\\nkept\\n' | sendmail {to}"])
    wait_for_output(server.container, mailbox, "kept 5e1d", 30)
    # Hold local delivery so the next message stays in the queue.
    server.exec(["sh", "-c", "postconf -e defer_transports=local && postfix reload"])
    server.exec(["sh", "-c", f"printf 'Subject: queued 77b0\\n\\nq\\n' | sendmail {to}"])
    wait_for_output(server.container, ["postqueue", "-p"], to, 30)
    before = server.container.id

    _edit_config(server, "ports", "smtp", free_port())
    result = server.invoke("provision")

    assert result.returncode == 0, result.stderr
    assert "(re-created)" in result.stdout
    assert server.container.id != before
    server.exec(["postqueue", "-f"])
    stored = wait_for_output(server.container, mailbox, "queued 77b0", 30)
    assert "kept 5e1d" in stored
