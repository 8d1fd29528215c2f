"""Pebble in the lab: an ACME server whose DNS-01 checks ask the lab BIND.

Debian's pebble package ships no certificate for its HTTPS listener: one is
made here with `cryptography` (a throwaway CA), and the client trusts that CA
through `[acme] ca_bundle`. Pebble's own issuing root comes from its
management endpoint (`/roots/0`).
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import docker

from tests.lab.bind import LabDns
from tests.lab.docker_lab import Lab, build_lab_image, host_port, run_lab_container
from tests.lab.lab_ca import LabCa
from tests.waiting import wait_until

PEBBLE_INDEX = 60
ACME_PORT = 14000
MANAGEMENT_PORT = 15000


@dataclass
class LabPebble:
    """How tests reach Pebble: the directory URL, the CA of its HTTPS listener, its roots."""

    directory: str
    management: str
    ca_bundle: Path
    container: docker.models.containers.Container = field(repr=False)
    # The directory as seen on the lab network (from the operator and mail containers).
    lab_directory: str = ""

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def root_pem(self) -> bytes:
        """Pebble's issuing root (it changes with every Pebble start)."""
        with urllib.request.urlopen(  # noqa: S310 - fixed https URL of the lab
            f"{self.management}/roots/0", context=self._context(), timeout=5
        ) as response:
            return bytes(response.read())


def _listener_certificate(directory: Path, lab_ip: str) -> Path:
    """A CA and a server certificate for 127.0.0.1/localhost/pebble and its lab address;
    returns the CA file."""
    ca = LabCa.create()
    names = ["pebble", "localhost", "127.0.0.1", lab_ip]
    chain, key = ca.issue(names, days=2, directory=directory)
    chain.rename(directory / "cert.pem")
    key.rename(directory / "key.pem")
    (directory / "key.pem").chmod(0o644)  # read by pebble in the container
    return ca.write_bundle(directory / "listener-ca.pem")


def start_pebble(
    client: docker.DockerClient,
    lab: Lab,
    dns: LabDns,
    workdir: Path,
    role: str = "pebble",
    index: int = PEBBLE_INDEX,
    validity_s: int | None = None,
) -> LabPebble:
    """Start Pebble on the lab network, validating DNS-01 against the lab BIND;
    `validity_s` shortens the certificates it issues (renewal tests)."""
    image = build_lab_image(client, "pebble")
    ip = lab.ip(index)
    ca_file = _listener_certificate(workdir, ip)
    config: dict[str, dict[str, object]] = {
        "pebble": {
            "listenAddress": f"0.0.0.0:{ACME_PORT}",
            "managementListenAddress": f"0.0.0.0:{MANAGEMENT_PORT}",
            "certificate": "/lab/cert.pem",
            "privateKey": "/lab/key.pem",
            "httpPort": 5002,
            "tlsPort": 5001,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    if validity_s is not None:
        config["pebble"]["certificateValidityPeriod"] = validity_s
    (workdir / "pebble.json").write_text(json.dumps(config, indent=2))
    container = run_lab_container(
        client,
        image,
        lab,
        role=role,
        ip=ip,
        ports={f"{ACME_PORT}/tcp": None, f"{MANAGEMENT_PORT}/tcp": None},
        volumes={str(workdir): {"bind": "/lab", "mode": "ro"}},
        command=["-dnsserver", f"{dns.ip}:53"],
    )
    pebble = LabPebble(
        directory=f"https://127.0.0.1:{host_port(container, f'{ACME_PORT}/tcp')}/dir",
        management=f"https://127.0.0.1:{host_port(container, f'{MANAGEMENT_PORT}/tcp')}",
        ca_bundle=ca_file,
        container=container,
        lab_directory=f"https://{ip}:{ACME_PORT}/dir",
    )

    def answers() -> bool:
        try:
            with urllib.request.urlopen(  # noqa: S310 - fixed https URL of the lab
                pebble.directory, context=pebble._context(), timeout=1
            ):
                return True
        except OSError:
            container.reload()
            if container.status == "exited":
                raise RuntimeError(container.logs().decode()) from None
            return False

    wait_until(answers, 30, "lab: Pebble not ready")
    return pebble
