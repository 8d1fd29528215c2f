"""The keyring lists its keys' addresses once per keyring version (the symlink's target)."""

from __future__ import annotations

from pathlib import Path

from mailsh_server.keyring import Keyring
from tests.fixtures.gpg import ALICE, GpgKeys


def _linked_keyring(tmp_path: Path, target: Path) -> tuple[Keyring, Path]:
    link = tmp_path / "gnupg"
    link.symlink_to(target)
    return Keyring(link), link


def test_addresses_are_those_of_the_key_user_ids(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    keyring, _ = _linked_keyring(tmp_path, gpg_keys.server.home)
    assert keyring.addresses(gpg_keys.alice) == [ALICE]


def test_addresses_follow_a_swapped_keyring(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    keyring, link = _linked_keyring(tmp_path, gpg_keys.keyed_server.home)
    assert keyring.addresses(gpg_keys.server_key) == ["root@mailsh.localdomain"]
    link.unlink()
    link.symlink_to(gpg_keys.server.home)
    assert keyring.addresses(gpg_keys.server_key) == []
