"""Requests shaped by real mail clients (tests/mail_clients.py) through the handler, real
gpg and the real sandbox: the command runs once, nothing the client added runs, and the
reply says what was cut."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from provision.client.replies import read_reply
from tests.fixtures.gpg import GpgKeys
from tests.handler_server import Server
from tests.mail_clients import (
    CLIENTS,
    THUNDERBIRD_STYLE,
    Client,
    Posting,
    html_only_clearsigned,
    html_only_pgp_mime,
    previous_reply_body,
    thunderbird,
    written,
)

POSTINGS: list[Posting] = ["none", "top", "bottom"]


@pytest.fixture
def short_paths() -> Iterator[tuple[Path, Path]]:
    """A counter and a marker with paths short enough that no client wraps a line."""
    stem = f"/tmp/mailsh-{secrets.token_hex(4)}"
    paths = (Path(f"{stem}-count"), Path(f"{stem}-quoted"))
    yield paths
    for path in paths:
        path.unlink(missing_ok=True)


@pytest.mark.parametrize("posting", POSTINGS)
@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.name)
def test_a_client_shaped_request_runs_only_what_the_person_wrote(
    server: Server,
    gpg_keys: GpgKeys,
    short_paths: tuple[Path, Path],
    client: Client,
    posting: Posting,
) -> None:
    counter, marker = short_paths
    quoted = previous_reply_body(f"{marker}\n")
    text = written(f"echo ran >> {counter}; echo é-{client.name}", client.style, posting, quoted)
    outcome = server.handle(client.build(gpg_keys, text))
    assert outcome.result == "accepted", outcome.log_line
    reply = read_reply(server.sent[0][0].as_bytes())
    assert reply.stdout == f"é-{client.name}\n"
    assert reply.stderr == ""
    assert counter.read_text() == "ran\n"
    assert not marker.exists()
    assert "signature block" in reply.text
    if posting == "bottom":
        assert "quoted reply (bottom-posted)" in reply.text
    elif posting == "top":  # the quote is below the signature, and cut with it
        assert "signature block (and all below it)" in reply.text


def test_a_long_thunderbird_command_soft_wrapped_runs_as_one_line(
    server: Server, gpg_keys: GpgKeys
) -> None:
    command = "echo " + " ".join(f"word{i}" for i in range(30))
    outcome = server.handle(thunderbird(gpg_keys, written(command, THUNDERBIRD_STYLE)))
    assert outcome.result == "accepted", outcome.log_line
    reply = read_reply(server.sent[0][0].as_bytes())
    assert reply.stdout == " ".join(f"word{i}" for i in range(30)) + "\n"
    assert "format=flowed" in reply.text


def test_an_html_only_signed_part_is_refused_with_how_to_send_plain_text(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    outcome = server.handle(html_only_pgp_mime(gpg_keys, f"touch {marker}\n"))
    assert outcome.result == "refused"
    assert not marker.exists()
    reply = read_reply(server.sent[0][0].as_bytes())
    assert reply.result == "refused"
    assert "HTML only" in reply.text and "Thunderbird" in reply.text


def test_a_reply_quoted_between_commands_is_refused_and_says_why(
    server: Server, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    text = f"echo one\n> {marker}\necho two\n"
    outcome = server.handle(thunderbird(gpg_keys, text.replace("> ", "> : > ")))
    assert outcome.result == "refused"
    assert "quoted lines" in read_reply(server.sent[0][0].as_bytes()).text
    assert not marker.exists()


def test_a_clear_signed_block_in_an_html_only_mail_runs(server: Server, gpg_keys: GpgKeys) -> None:
    text = written("echo 'a  b' && echo c", THUNDERBIRD_STYLE, "top", previous_reply_body("x\n"))
    outcome = server.handle(html_only_clearsigned(gpg_keys, text))
    assert outcome.result == "accepted", outcome.log_line
    assert read_reply(server.raw[0]).stdout == "a  b\nc\n"


def test_html_entities_in_a_clear_signed_block_in_an_html_only_mail_are_decoded_once(
    server: Server, gpg_keys: GpgKeys
) -> None:
    # The HTML says &amp;lt; for a signed "&lt;": decoding it twice would run "<".
    text = written("echo '<a&b>' '&lt;' '&amp;'", THUNDERBIRD_STYLE)
    outcome = server.handle(html_only_clearsigned(gpg_keys, text))
    assert outcome.result == "accepted", outcome.log_line
    assert read_reply(server.raw[0]).stdout == "<a&b> &lt; &amp;\n"
