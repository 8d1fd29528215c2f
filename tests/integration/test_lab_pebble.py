"""The lab's Pebble answers its directory over HTTPS and hands out its issuing root."""

from __future__ import annotations

from cryptography import x509

from tests.lab.pebble import LabPebble


def test_pebble_serves_its_issuing_root(lab_pebble: LabPebble) -> None:
    root = x509.load_pem_x509_certificate(lab_pebble.root_pem())
    assert root.subject == root.issuer
