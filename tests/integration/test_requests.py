"""Shell by mail through the real container: postfix, the pipe transport, gpg, sudo."""

from __future__ import annotations

import pytest

from provision.request_mail import FORMATS, Format
from tests.fixtures.gpg import GpgKeys
from tests.fixtures.requests import submit, wait_reply
from tests.fixtures.server import RunningServer
from tests.requests_corpus import request


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_round_trips(
    request_server: RunningServer, gpg_keys: GpgKeys, fmt: Format
) -> None:
    msg_id = submit(request_server, request(gpg_keys, fmt, "echo hello\n"))
    reply = wait_reply(request_server, msg_id)
    assert reply.result == "done", reply.text
    assert reply.stream("stdout") == "hello\n"
