"""What runs of a signed text: the command as the person wrote it (mailsh_server.command)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailsh_server.command import written_command
from mailsh_server.message import Flowed, RequestRefused
from mailsh_server.protocol import NEXT_COMMAND_MARKER

QUOTE = (
    "On Mon, Nov 30, 2026 at 12:05 AM, root@mailsh.localdomain wrote:\n"
    "> /tmp/x\n>\n> exit status 0 · 0.02 s\n>\n"
    f"> {NEXT_COMMAND_MARKER}\n"
)


def test_a_command_without_additions_is_unchanged() -> None:
    assert written_command("uptime\nid -un\n").text == "uptime\nid -un\n"


def test_the_signature_block_does_not_run() -> None:
    command = written_command("uptime\n\n-- \nAlice\nSent from my phone\n")
    assert command.text == "uptime\n"
    assert "signature block" in command.cuts[0].describe()


def test_a_double_dash_is_a_separator_only_where_trailing_blanks_are_lost() -> None:
    assert written_command("uptime\n--\nAlice\n", trailing_blanks_lost=True).text == "uptime\n"
    assert written_command("uptime\n--\n").text == "uptime\n--\n"


def test_a_phone_sign_off_without_separator_does_not_run() -> None:
    assert written_command("uptime\n\nSent from my iPhone\n").text == "uptime\n"


def test_a_top_posted_reply_runs_only_what_is_above_the_quote() -> None:
    command = written_command(f"ls /tmp\n\n{QUOTE}")
    assert command.text == "ls /tmp\n"
    assert command.cuts[0].lines[0].startswith("On Mon")


def test_a_bottom_posted_reply_runs_only_what_is_below_the_quote() -> None:
    assert written_command(f"{QUOTE}\nls /tmp\n").text == "ls /tmp\n"


def test_an_attribution_wrapped_on_two_lines_is_cut_with_the_quote() -> None:
    text = "ls\n\nOn Mon, Nov 30, 2026 at 12:05 AM <root@mailsh.localdomain>\nwrote:\n> x\n"
    assert written_command(text).text == "ls\n"


def test_an_attribution_followed_by_a_blank_line_is_cut_with_the_quote() -> None:
    text = "ls\n\nOn 30 Nov 2026, at 00:05, root@mailsh.localdomain wrote:\n\n> x\n"
    assert written_command(text).text == "ls\n"


def test_quoted_lines_between_commands_are_refused() -> None:
    with pytest.raises(RequestRefused, match="quoted lines between"):
        written_command("ls\n> /tmp/x\nuptime\n")


def test_a_colon_ended_line_above_the_quote_that_is_no_attribution_is_refused() -> None:
    with pytest.raises(RequestRefused, match="may be your mail client's attribution"):
        written_command("ls\nSomething odd:\n> /tmp/x\n")


def test_a_text_that_is_only_a_quote_is_refused() -> None:
    with pytest.raises(RequestRefused, match="nothing left to run"):
        written_command(QUOTE)


def test_a_reply_quoted_without_prefix_is_cut_at_its_header() -> None:
    text = (
        "uptime\n\n________________________________\nFrom: root@mailsh.localdomain\n"
        f"Sent: Monday\n\n/tmp/x\nexit status 0\n\n{NEXT_COMMAND_MARKER}\n"
    )
    assert written_command(text).text == "uptime\n"


def test_a_reply_quoted_without_prefix_and_without_header_is_refused() -> None:
    with pytest.raises(RequestRefused, match="without '>'"):
        written_command(f"uptime\n/tmp/x\n{NEXT_COMMAND_MARKER}\n")


def test_flowed_soft_breaks_are_joined() -> None:
    text = "echo one two \nthree\necho four\n"
    assert written_command(text, Flowed()).text == "echo one two three\necho four\n"


def test_flowed_delsp_removes_the_soft_break_space() -> None:
    assert written_command("echo abc \ndef\n", Flowed(delsp=True)).text == "echo abcdef\n"


def test_flowed_space_stuffing_is_undone() -> None:
    assert written_command("if true; then\n   echo x\n fi\n", Flowed()).text == (
        "if true; then\n  echo x\nfi\n"
    )


def test_without_flowed_a_trailing_space_does_not_join_lines() -> None:
    assert written_command("echo one \necho two\n").text == "echo one \necho two\n"


def test_the_flowed_signature_separator_is_not_a_soft_break() -> None:
    assert written_command("uptime\n-- \nAlice\n", Flowed()).text == "uptime\n"


LINES = st.sampled_from(
    [
        "",
        "echo a",
        "ls /tmp",
        "-- ",
        "--",
        "> quoted",
        ">",
        "On Mon, root@x wrote:",
        "odd:",
        "Sent from my phone",
        NEXT_COMMAND_MARKER,
        "From: root@x",
        "________________________________",
    ]
)


@settings(max_examples=500, database=None)
@given(lines=st.lists(LINES, max_size=12), lost=st.booleans())
def test_the_command_is_always_lines_of_the_signed_text_in_order(
    lines: list[str], lost: bool
) -> None:
    """The rules only remove: what runs is a part of what was signed, never a quoted line."""
    text = "\n".join(lines) + "\n"
    try:
        command = written_command(text, trailing_blanks_lost=lost)
    except RequestRefused:
        return
    kept = command.text.rstrip("\n").split("\n")
    it = iter(lines)
    assert all(any(line == original for original in it) for line in kept)
    assert not any(line.startswith(">") for line in kept)
