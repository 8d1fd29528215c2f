"""The report: a rich table grouped by area with a summary line, or JSON (report.schema.json)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from provision.deliverability.result import CheckResult, Status, exit_code
from provision.deliverability.target import Target

SCHEMA_FILE = Path(__file__).with_name("report.schema.json")
REPORT_VERSION = 1

STYLE = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "magenta",
    Status.SKIP: "dim",
}


def summary_counts(results: Sequence[CheckResult]) -> dict[str, int]:
    counts = Counter(r.status for r in results)
    return {s.value: counts.get(s, 0) for s in Status}


def summary_line(results: Sequence[CheckResult], elapsed_s: float) -> str:
    counts = summary_counts(results)
    parts = [f"{counts[s.value]} {s.value}" for s in Status if counts[s.value]]
    verdict = "FAILED" if exit_code(results) else "OK"
    return (
        f"{verdict}: {len(results)} checks, {', '.join(parts) or 'none run'} in {elapsed_s:.2f} s"
    )


def render_table(results: Sequence[CheckResult], elapsed_s: float, console: Console) -> None:
    table = Table(show_lines=False, expand=False, header_style="bold")
    for column in ("status", "check", "observed", "expected", "fix"):
        table.add_column(column, overflow="fold")
    areas = list(dict.fromkeys(r.area for r in results))
    for i, area in enumerate(areas):
        if i:
            table.add_section()
        table.add_row("", Text(area.upper(), style="bold cyan"), "", "", "")
        for r in (r for r in results if r.area == area):
            table.add_row(
                Text(r.status.value, style=STYLE[r.status]),
                r.name,
                Text(r.observed),
                Text(r.expected),
                Text(r.fix),
            )
    console.print(table)
    line = summary_line(results, elapsed_s)
    console.print(Text(line, style="bold red" if exit_code(results) else "bold green"))


def report_json(results: Sequence[CheckResult], target: Target, elapsed_s: float) -> dict[str, Any]:
    """The --json document; report.schema.json describes it."""
    return {
        "version": REPORT_VERSION,
        "target": {"domain": target.domain, "hostname": target.hostname, "ip": target.ip},
        "ok": exit_code(results) == 0,
        "summary": summary_counts(results),
        "elapsed_s": round(elapsed_s, 3),
        "results": [
            {
                "name": r.name,
                "area": r.area,
                "status": r.status.value,
                "observed": r.observed,
                "expected": r.expected,
                "fix": r.fix,
                "duration_ms": r.duration_ms,
            }
            for r in results
        ],
    }


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return schema
