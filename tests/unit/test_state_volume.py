"""What the operator's state sends to the container's volume, and what renewal needs."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from provision.backup import BackupError, _under
from provision.config import parse_settings
from provision.deploy import _write_renewal_files, prepare_state
from provision.render import render_configs
from provision.state import StateDir
from provision.state_volume import MANIFEST, state_archive

ACME = {
    "state_dir": "st",
    "domain": "example.org",
    "tls": {"mode": "acme"},
    "acme": {"agree_tos": True},
    "dns": {"provider": "rfc2136", "rfc2136": {"server": "ns1.example.org", "key_name": "k"}},
}


def test_state_archive_ships_the_operators_files_with_a_manifest(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "st")
    (state.root / "dkim").mkdir(parents=True)
    (state.root / "dkim" / "mail.private").write_text("key")
    (state.root / "server").mkdir()
    (state.root / "server" / "journal.sqlite3").write_text("the server's own")
    (state.root / "client").mkdir()
    (state.root / "client" / "me.asc").write_text("public")

    with tarfile.open(fileobj=io.BytesIO(state_archive(state))) as tar:
        names = tar.getnames()
        listed = tar.extractfile(MANIFEST).read().decode().split()  # type: ignore[union-attr]

    assert "dkim/mail.private" in names and listed == ["dkim/mail.private"]
    assert not any(n.startswith(("server", "client")) for n in names)


def test_renewal_secret_is_a_private_file_never_a_rendered_config(tmp_path: Path) -> None:
    settings = parse_settings(ACME, "test", tmp_path)
    state = StateDir(settings.state_dir)
    state.ensure()
    renewal = json.loads(render_configs(settings)["mailsh/renewal.json"])
    assert renewal["dns"]["key_name"] == "k"
    assert "s3cret" not in json.dumps(renewal)

    prepare_state_with_secret = {"MAILSH_TSIG_SECRET": "s3cret"}
    _write_renewal_files(settings, state, prepare_state_with_secret, lambda _m: None)
    secret = state.root / "secrets" / "dns"
    assert secret.read_text() == "s3cret"
    assert secret.stat().st_mode & 0o777 == 0o600


def test_self_signed_servers_render_no_renewer(tmp_path: Path) -> None:
    settings = parse_settings({"state_dir": "st"}, "test", tmp_path)
    files = render_configs(settings)
    assert "mailsh/renewal.json" not in files
    assert not any("renewer" in name for name in files)
    state, *_ = prepare_state(settings, lambda _m: None, {})
    assert not (state.root / "secrets" / "dns").exists()


def test_an_archive_name_leaving_the_directory_is_refused() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("state/../../etc/passwd")
        tar.addfile(info, io.BytesIO(b""))
    with (
        tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar,
        pytest.raises(BackupError, match="unsafe name"),
    ):
        _under(tar, "state")
