"""The provisioned container as a mail admin sees it from the host (issue: provision)."""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from email.message import EmailMessage

import dkim
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mailsh_server import protocol
from mailsh_server.protocol import server_command
from tests.fixtures.server import RunningServer
from tests.waiting import wait_until


def _served_cert(host: str, port: int, server_name: str) -> x509.Certificate:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=10) as sock,
        ctx.wrap_socket(sock, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _state_cert(server: RunningServer) -> x509.Certificate:
    return x509.load_pem_x509_certificate(server.state.cert_file.read_bytes())


def _mailbox(server: RunningServer, user: str, needle: str, timeout: float = 15) -> str:
    """The stored message containing `needle` in /var/mail/<user>, waiting for delivery."""

    def stored() -> str | None:
        code, text = server.exec(["cat", f"/var/mail/{user}"])
        return text if code == 0 and needle in text else None

    text = wait_until(stored, timeout, f"no message with {needle!r} in /var/mail/{user}")
    messages = text.split("\nFrom ")
    return next(m for m in messages if needle in m).split("\n", 1)[1]


def test_smtp_banner_names_the_configured_hostname(running_server: RunningServer) -> None:
    with smtplib.SMTP(*running_server.smtp, timeout=10) as smtp:
        code, banner = smtp.ehlo("client.example")
        assert code == 250
    assert running_server.result.banner.startswith(running_server.settings.fqdn + " ESMTP")
    assert banner.decode().startswith(running_server.settings.fqdn)


def test_starttls_presents_the_configured_certificate(running_server: RunningServer) -> None:
    ctx = ssl.create_default_context(cafile=str(running_server.state.cert_file))
    with smtplib.SMTP(*running_server.smtp, timeout=10) as smtp:
        smtp._host = running_server.settings.fqdn  # verify the name, not 127.0.0.1
        smtp.ehlo("client.example")
        assert smtp.has_extn("starttls")
        code, _ = smtp.starttls(context=ctx)
        assert code == 220
        sock = smtp.sock
        assert isinstance(sock, ssl.SSLSocket)
        der = sock.getpeercert(binary_form=True)
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
    assert der is not None
    assert x509.load_der_x509_certificate(der) == _state_cert(running_server)


def test_message_to_a_local_recipient_is_accepted_and_stored(
    running_server: RunningServer,
) -> None:
    msg = EmailMessage()
    msg["From"] = "alice@client.example"
    msg["To"] = f"postmaster@{running_server.settings.domain}"
    msg["Subject"] = "local delivery probe 7f3a"
    msg.set_content("hello postmaster\n")
    with smtplib.SMTP(*running_server.smtp, timeout=10) as smtp:
        refused = smtp.send_message(msg)
    assert refused == {}
    stored = _mailbox(running_server, "mailadmin", "local delivery probe 7f3a")
    assert "hello postmaster" in stored


def test_relaying_to_an_outside_domain_is_refused(running_server: RunningServer) -> None:
    with smtplib.SMTP(*running_server.smtp, timeout=10) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("spammer@client.example")
        code, reply = smtp.rcpt("victim@elsewhere.example")
    assert code == 554, reply
    assert b"Relay access denied" in reply


def test_locally_generated_mail_leaves_with_a_valid_dkim_signature(
    running_server: RunningServer,
) -> None:
    domain = running_server.settings.domain
    message = (
        f"From: robot@{domain}\nTo: postmaster@{domain}\n"
        "Subject: dkim probe 91c2\n\nsigned by opendkim\n"
    )
    code, out = running_server.exec(
        ["sh", "-c", f"printf '%s' '{message}' | /usr/sbin/sendmail -t -f robot@{domain}"]
    )
    assert code == 0, out
    raw = _mailbox(running_server, "mailadmin", "dkim probe 91c2").encode()
    assert b"DKIM-Signature:" in raw

    key = serialization.load_pem_private_key(
        running_server.state.dkim_key_file("mail").read_bytes(), password=None
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"mail._domainkey.{domain}.".encode()
        return record

    assert dkim.verify(raw, dnsfunc=dnsfunc)


def test_caddy_serves_https_with_the_configured_certificate(
    running_server: RunningServer,
) -> None:
    cert = _served_cert(*running_server.https, running_server.settings.fqdn)
    assert cert == _state_cert(running_server)
    ctx = ssl.create_default_context(cafile=str(running_server.state.cert_file))
    with (
        socket.create_connection(running_server.https, timeout=10) as sock,
        ctx.wrap_socket(sock, server_hostname=running_server.settings.fqdn) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {running_server.settings.fqdn}\r\n\r\n".encode())
        response = tls.recv(4096)
    assert response.startswith(b"HTTP/1.1 200")


def test_postfix_restarted_through_supervisor_runs_again(running_server: RunningServer) -> None:
    # `postfix start-fg` under supervisord: a restart must stop the master it started,
    # or the new one fails "already running" and the container turns unhealthy.
    code, out = running_server.exec(["supervisorctl", "restart", "postfix"])
    assert code == 0, out

    def healthy() -> bool:
        code, _ = running_server.exec(server_command(protocol.HEALTH_MODULE))
        return code == 0

    wait_until(healthy, 30, "postfix did not come back after a restart")
    _, masters = running_server.exec(["pgrep", "-c", "-x", "master"])
    assert masters.strip() == "1"
    with smtplib.SMTP(*running_server.smtp, timeout=10) as smtp:
        assert smtp.noop()[0] == 250
