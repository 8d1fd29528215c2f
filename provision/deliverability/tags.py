"""Tag=value lists as DKIM (RFC 6376 §3.2) and DMARC (RFC 7489 §6.4) records write them."""

from __future__ import annotations

import dkim.util


class TagSyntaxError(ValueError):
    pass


def parse_tags(record: str) -> dict[str, str]:
    """Tags in order; TagSyntaxError on a malformed list or a repeated tag."""
    try:
        parsed = dkim.util.parse_tag_value(record.encode())
    except dkim.util.InvalidTagValueList as e:
        raise TagSyntaxError(f"not a tag=value list: {e}") from None
    return {k.decode(): v.decode() for k, v in parsed.items()}
