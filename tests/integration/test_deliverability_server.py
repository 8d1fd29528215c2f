"""Deliverability checks that talk to a running server: banner, TLS, relaying, port 25.

`running_server` is the well-configured one; `misconfigured_server` serves a
certificate from a lab CA that expires in 5 days and relays for anyone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from provision.config import load_settings
from provision.deliverability.catalog import check_deliverability
from provision.deliverability.result import Status
from provision.deliverability.smtp_checks import (
    check_banner,
    check_open_relay,
    check_outbound_25,
    check_relay_host,
)
from provision.deliverability.target import Endpoint, Relay, Target, target_from_settings
from provision.deliverability.tls_check import check_tls_https, check_tls_smtp
from provision.deploy import provision
from provision.render import site_names
from tests.fixtures.server import RunningServer, remove_server, server_config, write_config
from tests.lab.docker_lab import free_port
from tests.lab.lab_ca import LabCa


def _target(server: RunningServer, **overrides: Any) -> Target:
    return dataclasses.replace(target_from_settings(server.settings), **overrides)


def _trusting(server: RunningServer, **overrides: Any) -> Target:
    """A target whose CA bundle is the server's own self-signed certificate."""
    return _target(server, ca_bundle=server.state.cert_file, **overrides)


def _closed_port() -> Endpoint:
    return Endpoint("127.0.0.1", free_port())


@pytest.fixture(scope="module")
def lab_ca() -> LabCa:
    return LabCa.create()


@pytest.fixture(scope="module")
def misconfigured_server(
    docker_client: docker.DockerClient,
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
    lab_ca: LabCa,
) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("misconfigured")
    config = server_config(directory)
    names = ["mail.mailsh.localdomain", "mta-sts.mailsh.localdomain"]
    chain, key = lab_ca.issue(names, days=5, directory=directory / "tls")
    config["tls"] = {"mode": "files", "cert_file": str(chain), "key_file": str(key)}
    config_path = write_config(directory, config)
    settings = load_settings(config_path, environ={})
    assert site_names(settings) == names
    result = provision(settings, docker_client, lambda _msg: None)
    server = RunningServer(config_path, settings, result, docker_client)
    for cmd in (["postconf", "-e", "mynetworks = 0.0.0.0/0"], ["postfix", "reload"]):
        code, out = server.exec(cmd)
        assert code == 0, out
    yield server
    remove_server(docker_client, settings.container_name)


def test_banner_naming_the_hostname_passes(running_server: RunningServer) -> None:
    assert check_banner(_target(running_server)).status == Status.PASS


def test_banner_naming_another_host_fails(running_server: RunningServer) -> None:
    outcome = check_banner(_target(running_server, hostname="mx.elsewhere.test"))
    assert outcome.status == Status.FAIL
    assert "hostname = 'mx.elsewhere.test'" in outcome.fix


def test_starttls_certificate_trusted_by_the_ca_bundle_passes(
    running_server: RunningServer,
) -> None:
    outcome = check_tls_smtp(_trusting(running_server))
    assert outcome.status == Status.PASS, outcome
    assert outcome.observed.startswith("TLSv1.")


def test_self_signed_starttls_certificate_fails_against_the_system_store(
    running_server: RunningServer,
) -> None:
    outcome = check_tls_smtp(_target(running_server, ca_bundle=None))
    assert outcome.status == Status.FAIL
    assert "self-signed" in outcome.observed
    assert "acme" in outcome.fix


def test_https_certificate_trusted_by_the_ca_bundle_passes(
    running_server: RunningServer,
) -> None:
    assert check_tls_https(_trusting(running_server)).status == Status.PASS


def test_https_without_a_certificate_for_the_hostname_fails(
    running_server: RunningServer,
) -> None:
    outcome = check_tls_https(_trusting(running_server, hostname="mx.elsewhere.test"))
    assert outcome.status == Status.FAIL
    assert "naming mx.elsewhere.test" in outcome.fix


def test_starttls_certificate_for_another_name_fails(running_server: RunningServer) -> None:
    outcome = check_tls_smtp(_trusting(running_server, hostname="mx.elsewhere.test"))
    assert outcome.status == Status.FAIL
    assert "mismatch" in outcome.observed
    assert "naming mx.elsewhere.test" in outcome.fix


def test_certificate_expiring_in_five_days_warns(
    misconfigured_server: RunningServer, lab_ca: LabCa, tmp_path: Path
) -> None:
    bundle = lab_ca.write_bundle(tmp_path / "ca.pem")
    outcome = check_tls_smtp(_target(misconfigured_server, ca_bundle=bundle))
    assert outcome.status == Status.WARN, outcome
    assert "invoke certs" in outcome.fix


def test_server_refusing_to_relay_passes(running_server: RunningServer) -> None:
    assert check_open_relay(_target(running_server)).status == Status.PASS


def test_open_relay_fails_and_says_how_to_close_it(misconfigured_server: RunningServer) -> None:
    outcome = check_open_relay(_target(misconfigured_server))
    assert outcome.status == Status.FAIL
    assert "mynetworks" in outcome.fix


def test_reachable_port_25_passes(running_server: RunningServer) -> None:
    probe = Endpoint(*running_server.smtp)
    assert check_outbound_25(_target(running_server, outbound_probe=probe)).status == Status.PASS


def test_blocked_port_25_fails_and_suggests_a_relay(running_server: RunningServer) -> None:
    outcome = check_outbound_25(_target(running_server, outbound_probe=_closed_port()))
    assert outcome.status == Status.FAIL
    assert "[relay]" in outcome.fix


def test_answering_relay_host_with_starttls_passes(running_server: RunningServer) -> None:
    relay = Relay(Endpoint(*running_server.smtp), starttls=True)
    assert check_relay_host(_target(running_server, relay=relay)).status == Status.PASS


def test_unreachable_relay_host_fails(running_server: RunningServer) -> None:
    relay = Relay(_closed_port(), starttls=True)
    outcome = check_relay_host(_target(running_server, relay=relay))
    assert outcome.status == Status.FAIL
    assert "[relay] host and port" in outcome.fix


def test_server_checks_run_concurrently_within_the_deadline(
    running_server: RunningServer,
) -> None:
    names = ["smtp-banner", "tls-smtp", "tls-https", "open-relay"]
    report = check_deliverability(_trusting(running_server), only=names)
    assert [r.status for r in report.results] == [Status.PASS] * 4
    assert report.elapsed_s < 3
