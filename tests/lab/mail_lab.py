"""The fully provisioned lab: a server set up as a user would (`invoke provision` with a
Pebble certificate, `invoke dns-update` over RFC 2136), its PTR set, on the lab network
beside the receiver for client.test. Used by the tests and by benchmarks/deliverability.py."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dns.reversename
import docker

from provision.config import load_settings
from provision.deploy import provision
from tests.fixtures.acme import TSIG_ENV, acme_config
from tests.fixtures.gpg import GpgHome
from tests.fixtures.server import (
    RunningServer,
    remove_server,
    run_invoke,
    server_config,
    write_config,
)
from tests.lab.bind import DNSBL_ZONE, LabDns
from tests.lab.compose import Lab
from tests.lab.pebble import LabPebble
from tests.lab.receiver import MAILBOX, LabReceiver
from tests.lab.zones import LabZones

LAB_SERVER_INDEX = 62
LAB_SERVER_DOMAIN = "srv.mailsh.test"


IMAP_PASSWORD_ENV = "MAILSH_LAB_IMAP_PASSWORD"


@dataclass
class LabMailServer:
    """The provisioned server, the receiver beside it, and the environment its tasks need
    (TSIG secret, the signer's GNUPGHOME, the receiver's IMAP password and CA)."""

    server: RunningServer
    receiver: LabReceiver
    env: dict[str, str]
    ip: str
    signer: GpgHome

    def check(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`invoke check-deliverability ARGS` against this server."""
        return self.server.invoke("check-deliverability", *args, env=self.env)


class LabSetupError(RuntimeError):
    pass


@contextmanager
def lab_mail_server(
    client: docker.DockerClient,
    lab: Lab,
    lab_dns: LabDns,
    lab_pebble: LabPebble,
    receiver: LabReceiver,
    directory: Path,
) -> Iterator[LabMailServer]:
    ip = lab.ip(LAB_SERVER_INDEX)
    root = directory / "pebble-root.pem"
    root.write_bytes(lab_pebble.root_pem())
    config = server_config(directory)
    config.update(acme_config(lab_dns, lab_pebble, ip=ip))
    config["domain"] = LAB_SERVER_DOMAIN
    config["acme"]["email"] = f"admin@{LAB_SERVER_DOMAIN}"
    config["mta_sts"] = {"mode": "enforce"}
    config["network"] = {"docker_network": lab.network.name, "ip": ip, "dns": [lab_dns.ip]}
    config["deliverability"] = {
        "resolvers": [f"{lab_dns.host}:{lab_dns.port}"],
        "dnsbl_zones": [DNSBL_ZONE],
        "ca_bundle": str(root),
        "outbound_probe": f"127.0.0.1:{receiver.smtp_port}",
    }
    # The user: a key for alice@client.test, trusted by the server, whose replies go to the
    # receiver's mailbox that the end-to-end check reads over IMAPS.
    signer = GpgHome(directory / "gnupg")
    signer.home.mkdir(mode=0o700)
    fingerprint = signer.gen_key(f"Alice <{receiver.address}>")
    trusted = Path(config["state_dir"]) / "trusted"
    trusted.mkdir(parents=True, exist_ok=True)
    (trusted / f"{fingerprint}.asc").write_bytes(signer.export(fingerprint))
    config["keys"] = [{"fingerprint": fingerprint}]
    config["client"] = {
        "key": fingerprint,
        "address": receiver.address,
        "imap": f"127.0.0.1:{receiver.imaps_port}",
        "username": MAILBOX,
        "password_env": IMAP_PASSWORD_ENV,
    }
    config_path = write_config(directory, config)
    env = {
        TSIG_ENV: lab_dns.tsig_secret,
        "GNUPGHOME": str(signer.home),
        IMAP_PASSWORD_ENV: receiver.imap_password,
        "SSL_CERT_FILE": str(receiver.ca_bundle),
    }
    settings = load_settings(config_path, environ={})
    try:
        for task in ("provision", "dns-update"):
            run = run_invoke(config_path, task, env=env)
            if run.returncode != 0:
                raise LabSetupError(f"invoke {task} failed: {run.stdout}\n{run.stderr}")
        ptr = dns.reversename.from_address(ip).to_text(omit_final_dot=True)
        LabZones(lab_dns).apply({(ptr, "PTR"): [f"{settings.fqdn}."]})
        result = provision(settings, client, lambda _msg: None, environ=env)
        server = RunningServer(config_path, settings, result, client)
        yield LabMailServer(server, receiver, env, ip, signer)
    finally:
        remove_server(client, settings.container_name)
