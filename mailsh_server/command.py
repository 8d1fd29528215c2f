"""The command a person wrote, from the verified signed text, without what the mail client
added: RFC 3676 soft line breaks, the signature block, the quoted previous reply and its
attribution line (pure).

Runs only after verification, and only on the signed text: whether that text is
format=flowed comes from the signed MIME part's own headers (`Flowed`), never from
anything outside the signature. Every rule that removes lines says which (`Cut`);
where the text is ambiguous (quoted lines between commands, a line that may be an
attribution), `RequestRefused` says why, and nothing runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailsh_server.message import Flowed, RequestRefused
from mailsh_server.protocol import NEXT_COMMAND_MARKER

SIGNATURE_SEPARATOR = "-- "
MAX_ATTRIBUTION_LINES = 3
# How phone clients sign off when they add no `-- ` separator.
_PHONE_SIGNATURE = re.compile(
    r"^(Sent (from|with) (my )?\S.{0,60}|Get Outlook for \S.{0,30}|"
    r"Von meinem \S.{0,40} gesendet|Envoyé de mon \S.{0,40})$"
)
# "On <date>, <someone> wrote:" in the languages clients ship, or any line that names
# an address and ends in a colon ("<date>, root@example.org:").
_ATTRIBUTION_VERB = re.compile(
    r"(wrote|writes|schrieb|a écrit|escribió|scrisse|skrev|schreef|napisał|escreveu"
    r"|kirjoitti|написал\w*)\s*:$",
    re.IGNORECASE,
)
# How attributions start ("On ...", "Am ...", "Le ...", a date), when a client wraps one.
_ATTRIBUTION_START = re.compile(r"^(On|Am|Le|El|Il|Op|Den|Em|W dniu|\d)\b")
# Where a client that does not prefix quoted lines (Outlook and its imitators) starts
# the previous message.
_QUOTE_HEADER = re.compile(
    r"^(-{3,} ?Original Message ?-{3,}|_{10,}|From: .*@.*|On .* wrote:)$", re.IGNORECASE
)


@dataclass(frozen=True)
class Cut:
    """Lines one rule removed, for the log and the reply."""

    rule: str
    lines: tuple[str, ...]

    @classmethod
    def of(cls, rule: str, lines: list[str]) -> Cut:
        """The cut of `lines`, without the blank lines that end them."""
        return cls(rule, tuple(lines[: _content_end(lines)]))

    def describe(self) -> str:
        if not self.lines:
            return self.rule
        first = next((line for line in self.lines if line.strip()), "")
        shown = first if len(first) <= 60 else first[:57] + "..."
        count = len(self.lines)
        what = f"{count} line{'s' if count != 1 else ''}"
        return f"{self.rule}: {what}" + (f", from {shown!r}" if shown else "")


@dataclass(frozen=True)
class Command:
    text: str
    cuts: tuple[Cut, ...] = ()


def _quoted(line: str) -> bool:
    return line.startswith(">")


def _blank(line: str) -> bool:
    return not line.strip()


def _content_end(lines: list[str]) -> int:
    """Where `lines` end without the blank lines that close them."""
    end = len(lines)
    while end and _blank(lines[end - 1]):
        end -= 1
    return end


def unflow(text: str, delsp: bool) -> tuple[str, int]:
    """RFC 3676 §4.2: join soft-broken lines (ending in a space), per quote depth, and undo
    space-stuffing; the text and how many soft breaks were joined."""
    out: list[str] = []
    current: tuple[int, str] | None = None
    joined = 0
    for raw in text.split("\n"):
        depth = len(raw) - len(raw.lstrip(">"))
        content = raw[depth:]
        if content.startswith(" "):
            content = content[1:]
        soft = content.endswith(" ") and content != SIGNATURE_SEPARATOR
        if soft and delsp:
            content = content[:-1]
        if current is not None and current[0] == depth:
            current = (depth, current[1] + content)
            joined += 1
        else:
            if current is not None:
                out.append(_requote(*current))
            current = (depth, content)
        if not soft:
            out.append(_requote(*current))
            current = None
    if current is not None:
        out.append(_requote(*current))
    return "\n".join(out), joined


def _requote(depth: int, content: str) -> str:
    return ">" * depth + (" " if depth and content else "") + content


def _looks_like_attribution(text: str) -> bool:
    return text.endswith(":") and bool(
        _ATTRIBUTION_VERB.search(text) or "@" in text or text.startswith("On ")
    )


def _attribution_above(lines: list[str], end: int) -> int | None:
    """Where an attribution ends right above `end` (one blank line allowed) starts; None if
    there is none. A colon-ended line that is not clearly one is refused, not guessed."""
    i = end
    if i > 0 and _blank(lines[i - 1]):
        i -= 1
    if i == 0 or _blank(lines[i - 1]) or not lines[i - 1].rstrip().endswith(":"):
        return None
    first: int | None = None  # the shortest block that reads as an attribution
    for count in range(1, MAX_ATTRIBUTION_LINES + 1):
        start = i - count
        if start < 0 or _blank(lines[start]) or _quoted(lines[start]):
            break
        if _looks_like_attribution(" ".join(line.strip() for line in lines[start:i])):
            if _ATTRIBUTION_START.match(lines[start]):
                return start  # the shortest block that starts like one (a wrapped line)
            if first is None:
                first = start
    if first is not None:
        return first
    raise RequestRefused(
        f"the line above the quoted reply, {lines[i - 1].strip()[:80]!r}, may be your mail "
        "client's attribution or part of your command; write the command alone above "
        "the quoted reply (nothing was run)"
    )


def _cut_signature(lines: list[str], trailing_blanks_lost: bool) -> tuple[list[str], Cut | None]:
    separators = {SIGNATURE_SEPARATOR, "--"} if trailing_blanks_lost else {SIGNATURE_SEPARATOR}
    for i, line in enumerate(lines):
        if line in separators:
            return lines[:i], Cut.of("signature block (and all below it)", lines[i:])
    return lines, None


def _cut_unquoted_marker(lines: list[str]) -> tuple[list[str], Cut | None]:
    """A client that quotes without '>' (Outlook style): the previous reply runs from its
    header block or attribution down to the marker line."""
    at = next((i for i, line in enumerate(lines) if line.strip() == NEXT_COMMAND_MARKER), None)
    if at is None:
        return lines, None
    if any(not _blank(line) for line in lines[at + 1 :]):
        raise RequestRefused(
            "text below mailsh's marker line in a reply quoted without '>': mailsh cannot "
            "tell your command from the previous reply; write the command above it "
            "(nothing was run)"
        )
    start = next((i for i in range(at) if _QUOTE_HEADER.match(lines[i].strip())), None)
    if start is None:
        raise RequestRefused(
            "your mail client quoted the previous reply without '>' and without a header "
            "line before it: mailsh cannot tell where your command ends (nothing was run)"
        )
    return lines[:start], Cut.of("previous reply quoted without '>'", lines[start:])


def _cut_trailing_quote(lines: list[str]) -> tuple[list[str], Cut | None]:
    """Top-posting: the command, then the attribution and the quoted previous reply."""
    end = _content_end(lines)
    start = end
    while start > 0 and (_quoted(lines[start - 1]) or _blank(lines[start - 1])):
        start -= 1
    while start < end and _blank(lines[start]):
        start += 1
    if start == end:
        return lines, None
    attribution = _attribution_above(lines, start)
    begin = start if attribution is None else attribution
    return lines[:begin], Cut.of("quoted reply (top-posted)", lines[begin:])


def _cut_leading_quote(lines: list[str]) -> tuple[list[str], Cut | None]:
    """Bottom-posting: an attribution and the quoted previous reply, then the command."""
    first = 0
    while first < len(lines) and _blank(lines[first]):
        first += 1
    start = first
    while start < len(lines) and not _quoted(lines[start]):
        if start - first >= MAX_ATTRIBUTION_LINES + 1:
            return lines, None
        start += 1
    if start == len(lines):
        return lines, None
    if start > first and _attribution_above(lines, start) != first:
        return lines, None
    end = start
    while end < len(lines) and (_quoted(lines[end]) or _blank(lines[end])):
        end += 1
    return lines[end:], Cut.of("quoted reply (bottom-posted)", lines[:end])


def _cut_phone_signature(lines: list[str]) -> tuple[list[str], Cut | None]:
    end = _content_end(lines)
    if end and _PHONE_SIGNATURE.match(lines[end - 1].strip()):
        return lines[: end - 1], Cut.of("phone signature", lines[end - 1 :])
    return lines, None


def written_command(
    text: str, flowed: Flowed | None = None, trailing_blanks_lost: bool = False
) -> Command:
    """The command in `text` (verified signed text, LF line ends) and what was cut from it.

    `trailing_blanks_lost`: a clear-signed text, whose signature does not cover trailing
    blanks, so the separator `-- ` may arrive as `--`.
    """
    cuts: list[Cut] = []
    if flowed is not None:
        text, joined = unflow(text, flowed.delsp)
        if joined:
            breaks = f"{joined} soft line break{'s' if joined != 1 else ''}"
            cuts.append(Cut(f"format=flowed: {breaks} joined", ()))
    lines = text.split("\n")
    for rule in (
        _cut_unquoted_marker,
        lambda ls: _cut_signature(ls, trailing_blanks_lost),
        _cut_trailing_quote,
        _cut_leading_quote,
        _cut_phone_signature,
    ):
        lines, cut = rule(lines)
        if cut is not None:
            cuts.append(cut)
    quoted = [line for line in lines if _quoted(line)]
    if quoted:
        raise RequestRefused(
            f"quoted lines between the lines of your command (first: {quoted[0][:60]!r}): "
            "a quoted line is never run, and mailsh cannot tell which lines you wrote; "
            "write the command alone above or below the quoted reply (nothing was run)"
        )
    command = "\n".join(lines).strip("\n")
    if not command.strip():
        removed = "; ".join(c.describe() for c in cuts) or "nothing"
        raise RequestRefused(
            f"nothing left to run after removing what the mail client added ({removed})"
        )
    return Command(command + "\n", tuple(cuts))
