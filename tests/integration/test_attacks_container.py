"""The attacks of tests/attacks.py against a running container: one or more per class."""

from __future__ import annotations

import re
import smtplib
import socket
import threading
import time
import uuid
from pathlib import Path

from tests.attacks import (
    compression_bomb_mail,
    deep_multipart,
    eight_bit_clearsign,
    forged_status_in_armor_header,
    guarded,
    reencoded_signature,
    reencodings,
    rsa_modulus,
    text_mode_request,
)
from tests.fixtures.gpg import RSA_USER, GpgKeys
from tests.fixtures.requests import Reply, handler_log_line, submit, wait_reply
from tests.fixtures.server import RunningServer
from tests.requests_corpus import address, plain, request
from tests.waiting import wait_for_output

REACH_SCRIPT = Path(__file__).resolve().parents[1] / "privileged_reach.py"


def _marker() -> str:
    return f"/tmp/marker-{uuid.uuid4().hex}"


def _decision(server: RunningServer, raw: bytes) -> str:
    """What the handler logged for a request: "accepted", or "refused: <reason>" (a
    replay is logged, never answered)."""
    line = handler_log_line(server, submit(server, raw))
    found = re.search(r"mailsh-request\[\d+\]: (\w+) .*?(?:reason=(.*))?$", line)
    assert found is not None, line
    result, reason = found.groups()
    return "accepted" if result == "accepted" else f"{result}: {reason}"


def _absent(server: RunningServer, path: str) -> bool:
    code, _ = server.exec(["test", "-e", path])
    return code != 0


def test_forged_status_lines_run_nothing_in_the_container(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    marker = _marker()
    raw = forged_status_in_armor_header(gpg_keys, f"touch {marker}\n", "\u2028")
    line = handler_log_line(request_server, submit(request_server, raw))
    assert "refused" in line
    assert _absent(request_server, marker)


def test_one_signature_in_many_encodings_runs_once_in_the_container(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    counter = f"/tmp/count-{uuid.uuid4().hex}"
    variants = [raw for name, raw in reencodings(gpg_keys, f"echo run >> {counter}\n")]
    decisions = [_decision(request_server, raw) for raw in variants]
    assert decisions.count("accepted") == 2  # the clear-signed signature and the opaque one
    assert set(decisions) == {"accepted", "refused: replay of an already accepted request"}
    _, count = request_server.exec(["cat", counter])
    assert count == "run\nrun\n"


def test_an_rsa_signature_re_encoded_as_other_numbers_runs_once_in_the_container(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    counter = f"/tmp/count-{uuid.uuid4().hex}"
    clear = gpg_keys.signer.sign(f"echo run >> {counter}\n".encode(), gpg_keys.rsa, "clearsign")
    n = rsa_modulus(gpg_keys, gpg_keys.rsa)
    mails = [clear] + [
        reencoded_signature(gpg_keys, clear, lambda s, k=k: s + k * n) for k in (1, 2)
    ]
    decisions = [
        _decision(request_server, address(plain(m.decode()), sender=RSA_USER)) for m in mails
    ]
    assert decisions == ["accepted"] + ["refused: replay of an already accepted request"] * 2
    _, count = request_server.exec(["cat", counter])
    assert count == "run\n"


def test_carriage_returns_added_to_a_text_mode_signed_part_run_nothing_in_the_container(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    marker = _marker()
    raw = text_mode_request(gpg_keys, guarded(marker))
    raw = raw.replace(b"&& \\\r\n", b"&& \\\r\r\r\n")
    line = handler_log_line(request_server, submit(request_server, raw))
    # postfix rewrites the bare CRs on the way in, which breaks the signature before the
    # handler's own refusal of them (tests/unit/test_signature_identity.py) is reached.
    assert "refused" in line
    assert _absent(request_server, marker)


def test_a_compression_bomb_is_refused_within_two_seconds(
    request_server: RunningServer,
) -> None:
    raw = compression_bomb_mail(gib=2)
    assert len(raw) < 8192
    started = time.monotonic()
    line = handler_log_line(request_server, submit(request_server, raw))
    assert time.monotonic() - started < 2.0
    assert "over" in line and "bytes" in line
    peak = int(re.search(r"\bmaxrss_mb=(\d+)", line).group(1))  # type: ignore[union-attr]
    assert peak < 100


def test_deep_mime_nesting_is_refused_and_not_kept_for_retries(
    request_server: RunningServer,
) -> None:
    raw = deep_multipart(1500)
    msg_id = re.search(rb"Message-ID: (\S+)", raw).group(1).decode()  # type: ignore[union-attr]
    with smtplib.SMTP(*request_server.smtp, timeout=10) as smtp:
        smtp.sendmail("a@client.example", [request_server.settings.request_recipient], raw)
    line = handler_log_line(request_server, msg_id)
    assert "refused" in line
    _, queue = request_server.exec(["postqueue", "-p"])
    assert "Mail queue is empty" in queue


def test_an_eight_bit_clear_signed_request_is_answered(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    reply = wait_reply(
        request_server, submit(request_server, eight_bit_clearsign(gpg_keys, "echo héllo\n"))
    )
    assert reply.result == "done", reply.text
    assert reply.stream("stdout") == "héllo\n"


def test_the_command_user_reaches_nothing_privileged(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    command = f"python3 - <<'PYEOF'\n{REACH_SCRIPT.read_text()}\nPYEOF\n"
    reply = wait_reply(
        request_server, submit(request_server, request(gpg_keys, "pgp-mime", command))
    )
    lines = reply.stream("stdout").splitlines()
    assert lines, reply.stream("stderr")
    reached = [line for line in lines if line.startswith("reached")]
    assert reached == [], lines
    blocked = {line.split()[1] for line in lines if line.startswith("blocked")}
    must_exist = {
        "caddy-admin-tcp",
        "caddy-admin-socket",
        "tls-private-key",
        "dkim-keys",
        "handler-home",
        "journal",
        "supervisor-socket",
        "lmtp-socket",
        "opendkim-socket",
        "syslog-socket",
        "queue-active",
        "queue-listing",
        "queue-flush",
        "runner-socket",
        "server-code-write",
        "signal-handler",
        "handler-environment",
        "raise-memory-limit",
        "setuid-program",
    }
    assert must_exist <= blocked, lines


def test_a_process_a_command_starts_in_a_new_session_does_not_outlive_it(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    # setsid puts it out of reach of the process-group kill; the runner kills what the
    # command user still runs once its last command has ended.
    seconds = 3000 + uuid.uuid4().int % 1000
    command = (
        f"setsid sleep {seconds} >/dev/null 2>&1 </dev/null &\n"
        f"sleep 0.3; ps -o sid= -o args= -u mailsh | grep -c 'sleep {seconds}$'\n"
    )
    reply = wait_reply(
        request_server, submit(request_server, request(gpg_keys, "pgp-mime", command))
    )
    assert reply.stream("stdout") == "1\n"  # it was running
    code, out = request_server.exec(["pgrep", "-u", "mailsh", "-f", f"sleep {seconds}"])
    assert code == 1, out


def test_a_forward_file_the_command_user_writes_runs_nothing_later(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    # A pipe in ~/.forward would have postfix's local(8) run it as the command user after
    # the command ended, outside the runner, and again on each retry (exit 75).
    log = f"/tmp/forward-{uuid.uuid4().hex}"
    command = (
        "cat > ~/.forward <<'EOF'\n"
        f"\"|/bin/sh -c 'echo ran >> {log}; exit 75'\"\n"
        "EOF\n"
        "printf 'Subject: x\\n\\nx\\n' | /usr/sbin/sendmail mailsh@localhost && echo queued\n"
    )
    try:
        reply = wait_reply(
            request_server, submit(request_server, request(gpg_keys, "pgp-mime", command))
        )
        assert reply.stream("stdout") == "queued\n", reply.text
        wait_for_output(request_server.container, ["cat", "/var/mail/mailsh"], "Subject: x", 30)
        request_server.exec(["postqueue", "-f"])
        assert _absent(request_server, log)
    finally:
        request_server.exec(["rm", "-f", "/home/mailsh/.forward", "/var/mail/mailsh"])


def test_a_command_cannot_forge_the_reply_another_request_waits_for(
    request_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    # In local mode `invoke send --wait` reads the reply mailbox in the container. A
    # command running meanwhile looks for the Message-ID it waits for (any process's
    # arguments are world-readable) and mails a "reply" to it through the local postfix.
    victim = submit(request_server, request(gpg_keys, "pgp-mime", "sleep 2; echo genuine\n"))
    got: dict[str, Reply] = {}
    waiter = threading.Thread(target=lambda: got.update(r=wait_reply(request_server, victim)))
    waiter.start()
    forge = (
        "sleep 0.5\n"
        "for id in $(ps -eo args | grep -o '<[^ >]*@client.example>' | sort -u); do\n"
        "  printf 'From: root@mailsh.localdomain\\nTo: alice@client.example\\n"
        'Subject: Re: x\\nIn-Reply-To: %s\\nX-Mailsh-Result: done\\n\\nFORGED\\n\' "$id" '
        "| /usr/sbin/sendmail -f root@mailsh.localdomain alice@client.example\n"
        "done\n"
    )
    wait_reply(request_server, submit(request_server, request(gpg_keys, "pgp-mime", forge)))
    waiter.join()
    assert got["r"].stream("stdout") == "genuine\n", got["r"].message.as_string()[:300]


def test_only_the_request_address_postmaster_and_abuse_receive_mail(
    request_server: RunningServer,
) -> None:
    domain = request_server.settings.domain
    with smtplib.SMTP(*request_server.smtp, timeout=10) as smtp:
        smtp.ehlo("attacker.example")
        smtp.mail("someone@attacker.example")
        codes = {
            local: smtp.rcpt(f"{local}@{domain}")[0]
            for local in ("root", "postmaster", "abuse", "mailsh", "caddy", "nobody", "www-data")
        }
    assert codes == {
        "root": 250,
        "postmaster": 250,
        "abuse": 250,
        "mailsh": 550,
        "caddy": 550,
        "nobody": 550,
        "www-data": 550,
    }


def test_a_message_smuggled_behind_a_bare_line_feed_dot_is_not_a_second_message(
    request_server: RunningServer,
) -> None:
    recipient = request_server.settings.request_recipient
    envelope = f"EHLO a.example\r\nMAIL FROM:<a@a.example>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n"
    smuggled = (
        f"Subject: x\r\n\r\nbody\n.\nMAIL FROM:<b@a.example>\nRCPT TO:<{recipient}>\n"
        "DATA\nSubject: smuggled\n\nsecond message\n.\n\r\n.\r\nQUIT\r\n"
    )
    with socket.create_connection(request_server.smtp, timeout=10) as sock:
        sock.sendall(envelope.encode())
        answers = _answers_until(sock, b"354")
        sock.sendall(smuggled.encode())
        answers += _answers_until(sock, b"221")
    # One message queued, then the QUIT: no answer to a smuggled MAIL, RCPT or DATA.
    assert [a[:3] for a in answers] == [b"220", b"250", b"250", b"250", b"354", b"250", b"221"]


def _answers_until(sock: socket.socket, last: bytes) -> list[bytes]:
    """The final line of each SMTP answer, up to the one that starts with `last`."""
    data = b""
    while not any(line.startswith(last) for line in data.split(b"\r\n")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return [line for line in data.split(b"\r\n") if line[3:4] == b" "]
