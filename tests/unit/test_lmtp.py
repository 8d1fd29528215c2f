"""LMTP framing for the resident handler: what postfix's lmtp client sends, what it reads."""

from __future__ import annotations

import io
import resource

from mailsh_server.limits import may_serve_more
from mailsh_server.lmtp import read_data, reply_for, serve


def _session(client: bytes, code: int = 0, serve_more: bool = True) -> tuple[list[bytes], bytes]:
    received: list[bytes] = []

    def deliver(raw: bytes) -> tuple[int, str]:
        received.append(raw)
        return code, "accepted" if code == 0 else "temporary failure: boom"

    out = io.BytesIO()
    serve(io.BytesIO(client), out, deliver, 1000, "mail.test", lambda: serve_more)
    return received, out.getvalue()


def test_data_is_unstuffed_and_ends_lines_with_lf() -> None:
    data = io.BytesIO(b"Subject: x\r\n\r\n..leading dot\r\nkept\r\r\n.\r\nQUIT\r\n")
    assert read_data(data, 1000) == b"Subject: x\n\n.leading dot\nkept\r\n"


def test_data_over_the_limit_is_cut_and_read_to_the_end() -> None:
    data = io.BytesIO(b"0123456789\r\n0123456789\r\n.\r\nQUIT\r\n")
    assert read_data(data, 15) == b"0123456789\n0123"
    assert data.readline() == b"QUIT\r\n"


def test_data_cut_by_a_closed_connection_is_not_delivered() -> None:
    received, _ = _session(b"LHLO postfix\r\nMAIL FROM:<a@b>\r\nRCPT TO:<r@s>\r\nDATA\r\nhalf")
    assert received == []


def test_a_handled_request_gets_250_per_recipient() -> None:
    client = b"LHLO postfix\r\nMAIL FROM:<a@b>\r\nRCPT TO:<r@s>\r\nDATA\r\nbody\r\n.\r\nQUIT\r\n"
    received, out = _session(client)
    assert received == [b"body\n"]
    assert out.split(b"\r\n")[-3] == b"250 2.0.0 accepted"


def test_a_temporary_failure_gets_451() -> None:
    client = b"LHLO postfix\r\nMAIL FROM:<a@b>\r\nRCPT TO:<r@s>\r\nDATA\r\nbody\r\n.\r\nQUIT\r\n"
    _, out = _session(client, code=75)
    assert out.split(b"\r\n")[-3].startswith(b"451 4.3.0 temporary failure")


def test_one_connection_carries_several_requests() -> None:
    one = b"MAIL FROM:<a@b>\r\nRCPT TO:<r@s>\r\nDATA\r\nbody\r\n.\r\n"
    received, _ = _session(b"LHLO postfix\r\n" + one + one + b"QUIT\r\n")
    assert len(received) == 2


def test_a_child_grown_too_big_answers_then_ends_the_connection() -> None:
    """postfix then hands the next request to a fresh child, over a new connection."""
    one = b"MAIL FROM:<a@b>\r\nRCPT TO:<r@s>\r\nDATA\r\nbody\r\n.\r\n"
    received, out = _session(b"LHLO postfix\r\n" + one + one + b"QUIT\r\n", serve_more=False)
    assert len(received) == 1
    assert out.endswith(b"250 2.0.0 accepted\r\n")


def test_a_grown_child_is_told_to_serve_no_more() -> None:
    with open("/proc/self/statm") as f:
        now = int(f.read().split()[0]) * resource.getpagesize()
    limit = now + 64 * 2**20
    assert may_serve_more(limit)
    grown = bytearray(128 * 2**20)  # mapped and held, as a hostile mail could leave it
    assert not may_serve_more(limit)
    del grown


def test_data_without_a_recipient_is_refused() -> None:
    received, out = _session(b"LHLO postfix\r\nMAIL FROM:<a@b>\r\nDATA\r\nQUIT\r\n")
    assert received == []
    assert b"503 5.5.1 RCPT first" in out


def test_reasons_stay_on_one_line() -> None:
    assert (
        reply_for(75, "temporary failure:\nOSError()")
        == b"451 4.3.0 temporary failure: OSError()\r\n"
    )
