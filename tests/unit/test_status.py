"""`invoke status` reads the last requests from the container's log."""

from __future__ import annotations

from provision.status import last_requests

LOG = """\
2026-11-29T10:00:01.5Z Nov 29 10:00:01 mailsh-request[12]: accepted signer=AB reason=ran
2026-11-29T10:00:02.5Z postfix/lmtp[40]: 4F2: to=<root@x>, status=sent
2026-11-29T10:05:00.1Z Nov 29 10:05:00 mailsh-request[12]: refused reason=unsigned
2026-11-29T10:06:00.1Z Nov 29 10:06:00 mailsh-request[12]: accepted signer=CD reason=ran
"""


def test_last_accepted_and_refused_requests_come_from_the_log() -> None:
    accepted, refused = last_requests(LOG)
    assert accepted is not None and refused is not None
    assert (accepted.at, accepted.detail) == ("2026-11-29 10:06:00", "signer=CD reason=ran")
    assert refused.detail == "reason=unsigned"


def test_no_request_yet_is_none() -> None:
    assert last_requests("2026-11-29T10:00:00Z postfix started\n") == (None, None)
