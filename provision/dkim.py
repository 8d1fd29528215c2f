"""DKIM selectors over time: the one opendkim signs with, a new one being rolled out, and
retired ones still published until their grace period ends.

A rotation never breaks mail in transit: the new selector is published first and
signs only once every authoritative server answers it; the old one stays
published for a grace period (default 7 days), after which the next
`dns-update` removes its record. The rules are pure functions of
`DkimSelectors`; `<state>/dkim/selectors.json` keeps them between runs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from provision.errors import MailshError
from provision.files import write_atomic
from provision.state import DkimKey, StateDir, ensure_dkim_key

Progress = Callable[[str], None]

DEFAULT_GRACE = dt.timedelta(days=7)
SELECTORS_FILE = "selectors.json"
# The value shown for a key that does not exist yet (a dry run generates nothing).
PENDING_KEY = "(to be generated)"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([dhms])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


@dataclass(frozen=True)
class DkimSelectors:
    """`signing`: opendkim signs with it. `pending`: made by `dkim-rotate`, published, not
    yet signing. `retired`: selector -> when its record may be removed."""

    signing: str
    pending: str | None = None
    retired: dict[str, dt.datetime] = field(default_factory=dict)

    def published(self, now: dt.datetime) -> list[str]:
        """Selectors whose record must be in DNS now, signing first."""
        kept = [s for s, until in self.retired.items() if until > now]
        return [self.signing, *([self.pending] if self.pending else []), *kept]

    def expired(self, now: dt.datetime) -> list[str]:
        """Retired selectors past their grace period: their record must go."""
        return [s for s, until in self.retired.items() if until <= now]


@dataclass(frozen=True)
class DkimRecordValue:
    """One `<selector>._domainkey` record to publish; `value` None: must not exist."""

    selector: str
    value: str | None


def parse_duration(text: str) -> dt.timedelta:
    """`7d`, `12h`, `30m`, `5s` (a number and a unit)."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise MailshError(f"{text!r} is not a duration", hint="use a number and d, h, m or s: 7d")
    return dt.timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def selectors_path(state: StateDir) -> Path:
    return state.root / "dkim" / SELECTORS_FILE


def load_selectors(state: StateDir, configured: str) -> DkimSelectors:
    """The selectors kept in the state dir; before any rotation, `[dkim] selector` signs."""
    path = selectors_path(state)
    if not path.exists():
        return DkimSelectors(configured)
    try:
        data = json.loads(path.read_text())
        retired = {s: dt.datetime.fromisoformat(t) for s, t in data.get("retired", {}).items()}
        return DkimSelectors(str(data["signing"]), data.get("pending"), retired)
    except (ValueError, KeyError, TypeError) as e:
        raise MailshError(
            f"{path}: not a readable selector list ({e})",
            hint="restore it from a backup; it says which DKIM key signs",
        ) from None


def save_selectors(state: StateDir, selectors: DkimSelectors) -> None:
    data = {
        "signing": selectors.signing,
        "pending": selectors.pending,
        "retired": {s: t.isoformat() for s, t in selectors.retired.items()},
    }
    write_atomic(selectors_path(state), json.dumps(data, indent=2) + "\n", mode=0o600)


def new_selector(base: str, now: dt.datetime, taken: list[str]) -> str:
    """`<base>-YYYYMMDD`, with `-2`, `-3`... when rotated again the same day."""
    stem = f"{base}-{now:%Y%m%d}"
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    return name


def start_rotation(selectors: DkimSelectors, base: str, now: dt.datetime) -> DkimSelectors:
    """A pending selector named after `base` (`[dkim] selector`); the one a previous
    rotation left pending when it stopped before switching."""
    if selectors.pending:
        return selectors
    taken = [selectors.signing, *selectors.retired]
    return replace(selectors, pending=new_selector(base, now, taken))


def switch_signing(
    selectors: DkimSelectors, now: dt.datetime, grace: dt.timedelta
) -> DkimSelectors:
    """The pending selector signs; the old one stays published for `grace`."""
    assert selectors.pending is not None
    retired = {**selectors.retired, selectors.signing: now + grace}
    return DkimSelectors(selectors.pending, None, retired)


def forget(selectors: DkimSelectors, removed: list[str]) -> DkimSelectors:
    retired = {s: t for s, t in selectors.retired.items() if s not in removed}
    return replace(selectors, retired=retired)


def signing_key(state: StateDir, configured: str, bits: int, progress: Progress) -> DkimKey:
    """The signing selector's key, generated (once) when missing."""
    selector = load_selectors(state, configured).signing
    return dkim_key(state, selector, bits, progress)


def dkim_key(state: StateDir, selector: str, bits: int, progress: Progress) -> DkimKey:
    if not state.dkim_key_file(selector).exists():
        state.ensure()
    key, generated = ensure_dkim_key(state, selector, bits)
    if generated:
        progress(f"generated DKIM key {selector} ({bits} bits)")
    return key


def record_values(
    state: StateDir,
    selectors: DkimSelectors,
    bits: int,
    now: dt.datetime,
    progress: Progress,
    create: bool = True,
) -> list[DkimRecordValue]:
    """What each selector's record holds: its key (generated when missing, or shown as
    to be generated when `create` is false), or nothing once it has expired."""
    values = []
    for selector in selectors.published(now):
        path = state.dkim_key_file(selector)
        if path.exists() or create:
            txt = dkim_key(state, selector, bits, progress).txt_value
        else:
            txt = PENDING_KEY
        values.append(DkimRecordValue(selector, txt))
    values += [DkimRecordValue(s, None) for s in selectors.expired(now)]
    return values


def remove_expired(state: StateDir, selectors: DkimSelectors, removed: list[str]) -> None:
    """After their records are gone from DNS: forget the selectors, delete their keys."""
    if not removed:
        return
    save_selectors(state, forget(selectors, removed))
    for selector in removed:
        state.dkim_key_file(selector).unlink(missing_ok=True)


def describe(selectors: DkimSelectors, now: dt.datetime | None = None) -> list[str]:
    """The selectors in use, one line each (for `invoke status`)."""
    now = now or dt.datetime.now(dt.UTC)
    lines = [f"{selectors.signing} signs"]
    if selectors.pending:
        lines.append(f"{selectors.pending} published, signs once visible (invoke dkim-rotate)")
    for selector, until in selectors.retired.items():
        when = until.strftime("%Y-%m-%d %H:%M %Z")
        if until > now:
            lines.append(f"{selector} retired, published until {when}")
        else:
            lines.append(f"{selector} retired; its record goes with the next dns-update")
    return lines
