"""A container with `tls.mode = "acme"`: Pebble's certificate served, renewed, kept on failure."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w
from cryptography import x509

from provision.acme import AcmeError
from provision.certs import authoritative_waiter, ensure_acme_certificate
from provision.deploy import ContainerAction
from provision.dns.provider import Record
from provision.dns.records import mta_sts_host, mta_sts_policy
from provision.dns.rfc2136 import Rfc2136Provider
from provision.render import MTA_STS_PATH
from tests.fixtures.acme import https_get, starttls_certificate, trusting
from tests.fixtures.server import RunningServer, run_invoke
from tests.lab.docker_lab import free_port
from tests.lab.pebble import LabPebble


def state_leaf(server: RunningServer) -> x509.Certificate:
    return x509.load_pem_x509_certificate(server.state.cert_file.read_bytes())


def served_leaves(server: RunningServer, root: bytes) -> list[x509.Certificate]:
    """The certificates STARTTLS on 25 and HTTPS on 443 present, verified against `root`."""
    ctx = trusting(root)
    fqdn = server.settings.fqdn
    smtp = starttls_certificate(*server.smtp, fqdn, ctx)
    https, _ = https_get(*server.https, fqdn, "/", ctx)
    return [smtp, https]


def config_variant(server: RunningServer, tmp_path: Path, **changes: dict[str, object]) -> Path:
    """The server's config file with some sections changed (same container, same state)."""
    config = tomllib.loads(server.config_path.read_text())
    for section, values in changes.items():
        config[section] = {**config.get(section, {}), **values}
    path = tmp_path / "mailsh.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def test_provision_again_does_not_reissue(acme_server: RunningServer) -> None:
    assert acme_server.result.action == ContainerAction.UNCHANGED


def test_starttls_and_https_present_pebbles_certificate(
    acme_server: RunningServer, lab_pebble: LabPebble
) -> None:
    leaf = state_leaf(acme_server)
    assert leaf.issuer != leaf.subject
    assert served_leaves(acme_server, lab_pebble.root_pem()) == [leaf, leaf]


def test_challenge_records_are_gone_after_issuance(
    acme_server: RunningServer, lab_rfc2136: Rfc2136Provider
) -> None:
    for name in acme_server.settings.fqdn, mta_sts_host(acme_server.settings):
        assert lab_rfc2136.read(f"_acme-challenge.{name}", "TXT") == ()


def test_second_certs_run_does_nothing_and_says_why(
    acme_server: RunningServer, acme_env: dict[str, str]
) -> None:
    before = acme_server.state.cert_file.read_bytes()
    run = acme_server.invoke("certs", env=acme_env)
    assert run.returncode == 0, run.stderr
    assert "nothing to do" in run.stdout
    assert "days left" in run.stdout
    assert acme_server.state.cert_file.read_bytes() == before


def test_forced_renewal_is_served_without_a_restart(
    acme_server: RunningServer, lab_pebble: LabPebble, acme_env: dict[str, str]
) -> None:
    container = acme_server.container
    started = container.attrs["State"]["StartedAt"]
    old = state_leaf(acme_server)
    run = acme_server.invoke("certs", "--force", env=acme_env)
    assert run.returncode == 0, run.stderr
    new = state_leaf(acme_server)
    assert new.serial_number != old.serial_number
    assert served_leaves(acme_server, lab_pebble.root_pem()) == [new, new]
    container.reload()
    assert container.attrs["State"]["StartedAt"] == started


def test_mta_sts_policy_is_served_over_https(
    acme_server: RunningServer, lab_pebble: LabPebble
) -> None:
    settings = acme_server.settings
    host = mta_sts_host(settings)
    leaf, response = https_get(
        *acme_server.https, host, MTA_STS_PATH, trusting(lab_pebble.root_pem())
    )
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"content-type: text/plain" in head.lower()
    assert body.decode() == mta_sts_policy(settings)
    assert leaf == state_leaf(acme_server)


def test_refused_challenge_fails_and_keeps_the_certificate(
    acme_server: RunningServer,
    lab_pebble: LabPebble,
    lab_rfc2136: Rfc2136Provider,
    acme_env: dict[str, str],
) -> None:
    before = acme_server.state.cert_file.read_bytes()
    real_wait = authoritative_waiter(acme_server.settings)

    def wait_then_tamper(name: str, value: str, progress: object) -> None:
        real_wait(name, value, lambda _m: None)
        lab_rfc2136.set(Record(name, "TXT", ("not-the-key-authorization",), ttl=60))

    with pytest.raises(AcmeError, match="challenge refused"):
        ensure_acme_certificate(
            acme_server.settings,
            acme_env,
            lambda _m: None,
            force=True,
            wait_published=wait_then_tamper,
        )
    assert acme_server.state.cert_file.read_bytes() == before
    leaf = x509.load_pem_x509_certificate(before)
    assert served_leaves(acme_server, lab_pebble.root_pem()) == [leaf, leaf]
    assert lab_rfc2136.read(f"_acme-challenge.{acme_server.settings.fqdn}", "TXT") == ()


def test_unreachable_directory_exits_1_and_keeps_the_certificate(
    acme_server: RunningServer, lab_pebble: LabPebble, acme_env: dict[str, str], tmp_path: Path
) -> None:
    before = acme_server.state.cert_file.read_bytes()
    config = config_variant(
        acme_server, tmp_path, acme={"directory": f"https://127.0.0.1:{free_port()}/dir"}
    )
    run = run_invoke(config, "certs", "--force", env=acme_env)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("mailsh: ACME directory: cannot reach the ACME server")
    assert "connection refused" in last
    assert acme_server.state.cert_file.read_bytes() == before
    leaf = x509.load_pem_x509_certificate(before)
    assert served_leaves(acme_server, lab_pebble.root_pem()) == [leaf, leaf]


def test_refused_dns_update_exits_1_and_keeps_the_certificate(
    acme_server: RunningServer, lab_pebble: LabPebble, tmp_path: Path
) -> None:
    before = acme_server.state.cert_file.read_bytes()
    wrong = {"MAILSH_LAB_TSIG": "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE="}
    run = run_invoke(acme_server.config_path, "certs", "--force", env=wrong)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("mailsh: rfc2136")
    assert "TSIG" in last
    assert acme_server.state.cert_file.read_bytes() == before
    leaf = x509.load_pem_x509_certificate(before)
    assert served_leaves(acme_server, lab_pebble.root_pem()) == [leaf, leaf]
