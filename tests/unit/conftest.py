"""The request handler's fixtures, shared by the unit tests that drive it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailsh_server.journal import ReplayJournal
from mailsh_server.keyring import Keyring
from tests.fixtures.gpg import GpgKeys
from tests.handler_server import Server


@pytest.fixture
def journal(tmp_path: Path) -> ReplayJournal:
    return ReplayJournal(tmp_path / "journal.sqlite3")


@pytest.fixture
def server(gpg_keys: GpgKeys, journal: ReplayJournal) -> Server:
    return Server(gpg_keys, journal)


@pytest.fixture
def keyed_server(gpg_keys: GpgKeys, journal: ReplayJournal) -> Server:
    """A server with its own key (`invoke server-key`)."""
    server = Server(gpg_keys, journal)
    server.handler.keyring = Keyring(gpg_keys.keyed_server.home)
    return server
