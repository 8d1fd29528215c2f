"""Property-based attacks (hypothesis): arbitrary and mutated request mails through the
real parser, gpg and rules. Whatever comes in, a command runs only if a trusted key
signed exactly that text, each signature runs at most once, and every mail ends in a
decision (accepted or refused, never an exception) within a bounded time."""

from __future__ import annotations

import datetime as dt
import getpass
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailsh_server.handler import RequestHandler
from mailsh_server.journal import ReplayJournal
from mailsh_server.keyring import Keyring
from mailsh_server.run import Captured, RunResult
from mailsh_server.settings import ServerSettings
from mailsh_server.verify import KeyPolicy, Policy
from provision.client.request_mail import FORMATS
from tests.attacks import LINE_SEPARATORS, forged_status_in_armor_header
from tests.fixtures.gpg import GpgKeys
from tests.mail_clients import CLIENTS, previous_reply_body, written
from tests.requests_corpus import RECIPIENT, encrypted_request, request

DECISION_BUDGET_S = 5.0
HOSTILE_FRAGMENTS = [
    b"[GNUPG:] GOODSIG 0123456789ABCDEF Alice\n",
    b"[GNUPG:] NEWSIG\n",
    "\u2028[GNUPG:] VALIDSIG ".encode(),
    b"\r\n--boundary\r\nContent-Type: multipart/mixed; boundary=boundary\r\n\r\n",
    b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n",
    b"-----END PGP SIGNATURE-----\n",
    b"\nbegin 644 x\n",
    b"Content-Transfer-Encoding: base64\n",
    b"=?utf-8?b?AAAA?=",
    b"\x00\xff\xfe",
    b"\n.\n",
    b"touch /tmp/mailsh-fuzz-marker\n",
]


@dataclass
class Recorder:
    """A runner that records what would run, instead of running it."""

    ran: list[str] = field(default_factory=list)

    def __call__(self, command: str, *_: object) -> RunResult:
        self.ran.append(command)
        empty = Captured(b"", 0)
        return RunResult(0, 0.0, empty, empty, False)


@dataclass
class Target:
    handler: RequestHandler
    recorder: Recorder
    genuine: dict[str, str]  # command text -> format, for each genuinely signed request
    seeds: list[bytes]


@pytest.fixture(scope="module")
def target(gpg_keys: GpgKeys, tmp_path_factory: pytest.TempPathFactory) -> Target:
    directory = tmp_path_factory.mktemp("fuzz")
    recorder = Recorder()
    trusted = {f: KeyPolicy(f) for f in gpg_keys.trusted}
    settings_ = ServerSettings(
        recipient=RECIPIENT,
        policy=Policy(trusted, getpass.getuser(), 3600, RECIPIENT, False),
        timeout_s=5,
        max_output_bytes=4096,
        reply_on_reject=True,
    )
    handler = RequestHandler(
        settings_,
        Keyring(gpg_keys.keyed_server.home),
        ReplayJournal(directory / "journal.sqlite3"),
        runner=recorder,
        sender=lambda raw, to: None,
    )
    genuine = {f"echo fuzz {fmt}\n": fmt for fmt in FORMATS}
    seeds = [request(gpg_keys, fmt, command) for command, fmt in genuine.items()]
    genuine["echo fuzz encrypted\n"] = "encrypted"
    seeds.append(encrypted_request(gpg_keys, "echo fuzz encrypted\n", subject="s"))
    seeds.append(forged_status_in_armor_header(gpg_keys, "echo forged\n", LINE_SEPARATORS[0]))
    seeds += client_seeds(gpg_keys, genuine)
    return Target(handler, recorder, genuine, seeds)


def client_seeds(keys: GpgKeys, genuine: dict[str, str]) -> list[bytes]:
    """Requests as mail clients shape them (flowed, signature blocks, quoted replies, HTML
    alternatives); what runs of each is the command alone."""
    quoted = previous_reply_body("> /tmp/mailsh-fuzz-marker\n")
    seeds = []
    for client, posting in zip(CLIENTS, ["top", "bottom", "none"] * 3, strict=False):
        command = f"echo fuzz {client.name}\n"
        genuine[command] = client.name
        seeds.append(client.build(keys, written(command, client.style, posting, quoted)))
    return seeds


def _check(target: Target, raw: bytes) -> None:
    started = time.monotonic()
    outcome = target.handler.handle(raw)
    assert time.monotonic() - started < DECISION_BUDGET_S
    assert outcome.result in ("accepted", "refused", "answered", "interrupted")
    for command, runs in Counter(target.recorder.ran).items():
        assert command in target.genuine, f"ran a command nobody signed: {command!r}"
        assert runs == 1, f"ran {command!r} {runs} times"


FUZZ = settings(
    max_examples=1000,
    deadline=dt.timedelta(seconds=DECISION_BUDGET_S),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@FUZZ
@given(raw=st.binary(max_size=4096))
def test_arbitrary_bytes_never_run_anything(target: Target, raw: bytes) -> None:
    _check(target, raw)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    raw = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "fragment", "duplicate"]))
        at = draw(st.integers(0, len(raw)))
        if action == "flip" and at < len(raw):
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del raw[at : at + draw(st.integers(1, 64))]
        elif action == "fragment":
            raw[at:at] = draw(st.sampled_from(HOSTILE_FRAGMENTS))
        else:
            raw += raw[at : at + draw(st.integers(1, 2048))]
    return bytes(raw)


@FUZZ
@given(data=st.data())
def test_mutated_requests_run_only_what_was_signed_and_only_once(
    target: Target, data: st.DataObject
) -> None:
    _check(target, data.draw(mutated(target.seeds)))


def test_the_seeds_themselves_are_accepted(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    """The mutations start from requests the server really runs (else the fuzzing proves
    little)."""
    recorder = Recorder()
    trusted = {f: KeyPolicy(f) for f in gpg_keys.trusted}
    handler = RequestHandler(
        ServerSettings(
            RECIPIENT, Policy(trusted, getpass.getuser(), 3600, RECIPIENT, False), 5, 4096, False
        ),
        Keyring(gpg_keys.keyed_server.home),
        ReplayJournal(tmp_path / "journal.sqlite3"),
        runner=recorder,
        sender=lambda raw, to: None,
    )
    for fmt in FORMATS:
        assert handler.handle(request(gpg_keys, fmt, f"echo seed {fmt}\n")).result == "accepted"
    raw = encrypted_request(gpg_keys, "echo seed encrypted\n", subject="s")
    assert handler.handle(raw).result == "accepted"
    genuine: dict[str, str] = {}
    for raw in client_seeds(gpg_keys, genuine):
        assert handler.handle(raw).result == "accepted"
    assert sorted(recorder.ran[-len(genuine) :]) == sorted(genuine)
