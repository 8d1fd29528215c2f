"""A stable hash over named inputs: what `invoke provision` compares to do nothing when
nothing changed (the image's build context, the container's spec, the rendered configs)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def content_hash(items: Iterable[tuple[str, bytes]]) -> str:
    """A stable hash over named byte strings (order-independent)."""
    h = hashlib.sha256()
    for name, data in sorted(items):
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()
