"""Pebble in the lab: an ACME server whose DNS-01 checks ask the lab BIND.

Debian's pebble package ships no certificate for its HTTPS listener: the container
makes one at start with a throwaway CA (tests/lab/lab-cert.sh), which the client trusts
through `[acme] ca_bundle`. Pebble's own issuing root comes from its management
endpoint (`/roots/0`).
"""

from __future__ import annotations

import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.lab.compose import Lab

ACME_PORT = 14000
MANAGEMENT_PORT = 15000
LISTENER_CA = "/lab/ca.pem"


@dataclass
class LabPebble:
    """How tests reach Pebble: the directory URL, the CA of its HTTPS listener, its roots."""

    directory: str
    management: str
    ca_bundle: Path
    # The directory as seen on the lab network (from the operator and mail containers).
    lab_directory: str

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def root_pem(self) -> bytes:
        """Pebble's issuing root (it changes with every Pebble start)."""
        with urllib.request.urlopen(  # noqa: S310 - fixed https URL of the lab
            f"{self.management}/roots/0", context=self._context(), timeout=5
        ) as response:
            return bytes(response.read())


def wait_for_pebble(lab: Lab, directory: Path, service: str = "pebble") -> LabPebble:
    """The compose service `service` (`pebble`, or `pebble-short` whose certificates are
    due for renewal as soon as issued), once its directory answers over HTTPS; the CA
    of its listener is copied to `directory`."""
    pebble = LabPebble(
        directory=f"https://127.0.0.1:{lab.port(service, ACME_PORT)}/dir",
        management=f"https://127.0.0.1:{lab.port(service, MANAGEMENT_PORT)}",
        ca_bundle=directory / "listener-ca.pem",
        lab_directory=f"https://{lab.address(service)}:{ACME_PORT}/dir",
    )

    def answers() -> bool:
        ca = lab.read(service, LISTENER_CA)
        if ca is None:
            return False
        pebble.ca_bundle.write_bytes(ca)
        try:
            with urllib.request.urlopen(  # noqa: S310 - fixed https URL of the lab
                pebble.directory, context=pebble._context(), timeout=1
            ):
                return True
        except OSError:
            return False

    lab.wait_ready(service, answers, 30)
    return pebble
