"""The text of an HTML body, for a clear-signed block pasted into an HTML-only mail (pure).

The signature check decides whether the block came out as it was signed: a wrong
rendering is a bad signature, never another command.
"""

from __future__ import annotations

import re
from email.message import Message
from html.parser import HTMLParser

_TAG_GAP = re.compile(r">[ \t]*\n[ \t]*<")


class _TextOfHtml(HTMLParser):
    """The text of an HTML body, lines broken where the HTML breaks them."""

    BREAKS = frozenset({"br", "div", "p", "pre", "li", "tr", "blockquote", "h1", "h2", "h3"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag == "br" or (
            tag in self.BREAKS and self.chunks and not self.chunks[-1].endswith("\n")
        ):
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BREAKS - {"br"} and self.chunks and not self.chunks[-1].endswith("\n"):
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.chunks.append(data)


def html_text(body: bytes, part: Message) -> bytes:
    """An HTML part's text, as UTF-8: lines where the HTML breaks them, entities decoded."""
    charset = part.get_content_charset("utf-8")
    try:
        text = body.decode(charset, "replace")
    except LookupError:
        text = body.decode("utf-8", "replace")
    parser = _TextOfHtml()
    # Line ends in HTML source are blanks, and none at all between two tags.
    text = _TAG_GAP.sub("><", text.replace("\r\n", "\n"))
    parser.feed(text.replace("\n", " "))
    parser.close()
    # The parser decodes entities (convert_charrefs): decoding again would turn a signed
    # "&lt;" into "<".
    plain = "".join(parser.chunks).replace("\xa0", " ")
    return plain.encode("utf-8")
