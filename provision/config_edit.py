"""Edits of the user's mailsh.toml that keep its comments and layout (tomlkit)."""

from __future__ import annotations

import tomlkit
import tomlkit.exceptions
from tomlkit.items import AoT, Array, InlineTable, Table, Whitespace

from provision.config_types import normalize_fingerprint
from provision.errors import ConfigError


def config_with_key(text: str, fingerprint: str, source: str = "mailsh.toml") -> str:
    """mailsh.toml text that lists the fingerprint in `keys`: a new `[[keys]]` table, or an
    entry of an inline `keys = [...]`; unchanged when the key is already listed."""
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as e:
        raise ConfigError(f"{source}: not valid TOML ({e})") from None
    keys = doc.get("keys")
    if keys is None:
        entries = tomlkit.aot()
        entries.append(_key_table(fingerprint))
        doc.append("keys", entries)
    elif not isinstance(keys, AoT | Array):
        raise ConfigError(f"{source}: keys must be a list of [[keys]] tables")
    elif _lists(keys, fingerprint):
        return text
    elif isinstance(keys, AoT):
        keys.append(_next_key_table(keys, fingerprint))
    else:
        entry = tomlkit.inline_table()
        entry["fingerprint"] = fingerprint
        keys.append(entry)
    return tomlkit.dumps(doc)


def _lists(keys: AoT | Array, fingerprint: str) -> bool:
    for entry in keys:
        if not isinstance(entry, Table | InlineTable):
            continue
        listed = entry.get("fingerprint")
        if isinstance(listed, str) and normalize_fingerprint(listed) == fingerprint:
            return True
    return False


def _key_table(fingerprint: str) -> Table:
    table = tomlkit.table()
    table["fingerprint"] = fingerprint
    return table


def _next_key_table(keys: AoT, fingerprint: str) -> Table:
    """A `[[keys]]` table to follow the last one, set apart by a blank line as it is."""
    table = _key_table(fingerprint)
    last = keys.body[-1].value.body if keys.body else []
    if last and isinstance(last[-1][1], Whitespace):
        table.add(tomlkit.nl())  # the last one's blank line now separates what follows
    else:
        table.trivia.indent = "\n"  # the last one ends the file
    return table
