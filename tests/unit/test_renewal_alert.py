"""The server's renewer mails the operator when a renewal fails; when the mail cannot be
handed to postfix, its log says so instead of the renewer stopping or staying silent."""

from __future__ import annotations

import os
import stat
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailsh_server.renewer import alert


def _mail() -> EmailMessage:
    mail = EmailMessage()
    mail["To"] = "postmaster@example.org"
    mail["Subject"] = "certificate renewal failed"
    mail.set_content("the CA refused\n")
    return mail


def _sendmail(tmp_path: Path, script: str) -> str:
    path = tmp_path / "sendmail"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_the_alert_reaches_sendmail_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "handed"
    alert(_mail(), _sendmail(tmp_path, f'echo "$@" > {out}.args; cat > {out}'))
    assert "Subject: certificate renewal failed" in out.read_text()
    assert (tmp_path / "handed.args").read_text() == "-t -oi\n"
    assert capsys.readouterr().out == ""


def test_a_refused_alert_is_logged_with_what_sendmail_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alert(
        _mail(),
        _sendmail(tmp_path, "cat >/dev/null; echo 'fatal: queue file write error' >&2; exit 75"),
    )
    logged = capsys.readouterr().out
    assert (
        "the failure alert was not sent: sendmail exit 75: fatal: queue file write error" in logged
    )


def test_a_missing_sendmail_is_logged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alert(_mail(), os.fspath(tmp_path / "absent"))
    assert "the failure alert was not sent" in capsys.readouterr().out
