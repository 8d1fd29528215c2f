"""Wait until the authoritative servers answer new values (bounded, with progress).

Used after `dns-update` and by ACME before it asks the CA to validate a
DNS-01 challenge. Servers are asked directly, never through a caching
resolver, so a stale cache cannot make the wait pass or fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import dns.resolver

from provision.config_types import join_host_port
from provision.dns.authoritative import Server, find_nameservers, parse_servers, query_values
from provision.dns.provider import Record
from provision.errors import DnsError
from provision.polling import poll

Progress = Callable[[str], None]
PROGRESS_EVERY_S = 5.0


def authoritative_servers(
    name: str, configured: Sequence[str] = (), resolver: dns.resolver.Resolver | None = None
) -> list[Server]:
    """The servers to poll for `name`: `[dns] nameservers` ("host:port") when configured,
    else the addresses of its zone's NS records (looked up through `resolver`)."""
    if configured:
        return parse_servers(list(configured))
    return find_nameservers(name, resolver or dns.resolver.Resolver())


def _matches(record: Record, answer: tuple[str, ...], exact: bool) -> bool:
    if exact:
        return sorted(record.values) == sorted(answer)
    return set(record.values) <= set(answer)


def wait_for_records(
    records: Sequence[Record],
    nameservers: Sequence[Server],
    timeout: float,
    progress: Progress,
    exact: bool = True,
    interval: float = 0.5,
    query_timeout: float = 3.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Poll every server until each answers every record (exactly, or at least its values
    with `exact=False`; with `exact`, a record with no values must be absent). Returns the
    seconds it took; raises DnsError naming what is still missing after `timeout`."""
    if not nameservers:
        raise DnsError("no authoritative server to ask", hint="set [dns] nameservers")
    start = clock()
    pending = [(r, s) for r in records for s in nameservers]
    last_seen: dict[tuple[Record, Server], str] = {}
    next_report = start + PROGRESS_EVERY_S

    def answered() -> bool | None:
        """True once every server answers every record."""
        nonlocal pending
        still = []
        for record, server in pending:
            try:
                answer = query_values(record.name, record.rtype, server, query_timeout)
            except DnsError as e:
                last_seen[(record, server)] = e.message
                still.append((record, server))
                continue
            if not _matches(record, answer, exact):
                last_seen[(record, server)] = f"answers {list(answer)}"
                still.append((record, server))
        pending = still
        return True if not pending else None

    def still_missing() -> DnsError:
        record, server = pending[0]
        more = f" (and {len(pending) - 1} more)" if len(pending) > 1 else ""
        return DnsError(
            f"after {timeout:g} s, {join_host_port(*server)} still "
            f"{last_seen[(record, server)]} for {record.name} {record.rtype}{more}",
            hint="the provider accepted the change; retry later or raise "
            "[dns] propagation_timeout_s",
        )

    def waiting(elapsed: float) -> None:
        nonlocal next_report
        if clock() >= next_report:
            progress(
                f"waiting for {len(pending)} answer(s) from the authoritative servers "
                f"({elapsed:.0f} s of {timeout:g} s)"
            )
            next_report = clock() + PROGRESS_EVERY_S

    poll(answered, timeout, interval, still_missing, waiting=waiting, clock=clock, sleep=sleep)
    return clock() - start


def wait_for_txt(
    name: str,
    values: Sequence[str],
    nameservers: Sequence[Server],
    timeout: float,
    progress: Progress,
    interval: float = 0.5,
) -> float:
    """Wait until every server's TXT answer for `name` contains all `values` (ACME)."""
    return wait_for_records(
        [Record(name, "TXT", tuple(values))],
        nameservers,
        timeout,
        progress,
        exact=False,
        interval=interval,
    )
