"""What tasks print: one block for one server, one table row per server for several."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from provision.config import Settings
from provision.config_types import join_host_port
from provision.console import styled
from provision.deploy import ProvisionResult
from provision.dns import publish as dns_publish
from provision.engine import Engine, published_host, reachable_here
from provision.fleet import ServerOutcome
from provision.status import ServerStatus


@dataclass(frozen=True)
class Provisioned:
    settings: Settings
    engine: Engine
    result: ProvisionResult
    dns: dns_publish.DnsReport


def provision_lines(done: Provisioned) -> list[Text | str]:
    """The block `invoke provision` prints for one server."""
    settings, where, result = done.settings, done.engine, done.result
    host = published_host(settings.ports.bind, where)
    smtp, https = (
        join_host_port(host, settings.ports.smtp),
        join_host_port(host, settings.ports.https),
    )
    lines: list[Text | str] = [
        styled(("mailsh is up", "bold green"), f" ({result.action.value}) on {where}"),
        f"  hostname  {settings.fqdn}",
        f"  smtp      {smtp} -> 25",
        f"  https     {https} -> 443",
    ]
    if not reachable_here(settings.ports.bind, where):
        lines.append(
            f"  note      published on the loopback of {where.host} only: "
            'set [ports] bind = "0.0.0.0" to receive mail from the internet'
        )
    lines += [
        f"  banner    {result.banner}",
        f"  requests  {settings.request_recipient}",
        f"  dkim      {settings.dkim.selector} key sha256:{result.dkim.fingerprint}",
        "  DNS records:" if done.dns.zone_fragment is None else "  publish these:",
    ]
    return lines


def print_provisioned(outcomes: Sequence[ServerOutcome[Provisioned]], out: Console) -> None:
    """One server: its block, or nothing when it failed (the error line says why).
    Several: a table."""
    if len(outcomes) == 1:
        done = outcomes[0].value
        if done is None:
            return
        for line in provision_lines(done):
            out.print(line, soft_wrap=True)
        for line in dns_publish.report_lines(done.dns):
            out.print(f"    {line}", soft_wrap=True)
        return
    table = Table(title="mailsh servers", title_justify="left")
    for column in ("server", "result", "engine", "smtp", "https", "dkim"):
        table.add_column(column)
    for o in outcomes:
        if o.value is None:
            table.add_row(o.server.name, styled(("failed", "red"), f": {o.error}"), "", "", "", "")
            continue
        s, where = o.value.settings, o.value.engine
        host = published_host(s.ports.bind, where)
        table.add_row(
            s.container_name,
            o.value.result.action.value,
            str(where),
            join_host_port(host, s.ports.smtp),
            join_host_port(host, s.ports.https),
            o.value.result.dkim.fingerprint,
        )
    out.print(table)


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _certificate(st: ServerStatus) -> str:
    if st.certificate_days is None:
        return "none"
    text = f"{st.certificate_days} days left ({st.certificate_until})"
    renewal = st.renewal
    if renewal:
        text += f"; renewal {renewal['result']} at {renewal['last_attempt'][:16]}"
        if renewal["result"] == "failed":
            text += f": {renewal['detail']}"
    return text


def status_lines(st: ServerStatus) -> list[str]:
    """The block `invoke status` prints for one server."""
    if st.state == "missing":
        return [f"{st.name}: no container on {st.engine} (run `invoke provision`)"]
    services = ", ".join(f"{name} {state}" for name, state in sorted(st.services.items()))
    accepted, refused = st.last_accepted, st.last_refused
    return [
        f"{st.name}: {st.state}, health {st.health}, on {st.engine}",
        f"  services     {services or '(not running)'}",
        f"  certificate  {_certificate(st)}",
        f"  dns          {st.dns}",
        *[f"               {line}" for line in st.dns_drift],
        *[f"  dkim: {line}" for line in st.dkim],
        f"  queue        {'?' if st.queue is None else st.queue} message(s)",
        f"  accepted     {f'{accepted.at} {accepted.detail}' if accepted else 'none yet'}",
        f"  refused      {f'{refused.at} {refused.detail}' if refused else 'none yet'}",
        "  disk         " + ", ".join(f"{role} {_mib(n)}" for role, n in st.disk.items()),
    ]


def print_status(outcomes: Sequence[ServerOutcome[ServerStatus]], out: Console) -> None:
    if len(outcomes) > 1:
        table = Table(title="mailsh servers", title_justify="left")
        for column in ("server", "state", "services", "cert days", "dns", "queue", "disk"):
            table.add_column(column)
        for o in outcomes:
            st = o.value
            if st is None:
                table.add_row(
                    o.server.name, styled(("error", "red"), f": {o.error}"), "", "", "", "", ""
                )
                continue
            down = [n for n, s in st.services.items() if s != "RUNNING"]
            table.add_row(
                st.name,
                st.state,
                "all running" if st.services and not down else ", ".join(down) or "-",
                "-" if st.certificate_days is None else str(st.certificate_days),
                st.dns,
                "-" if st.queue is None else str(st.queue),
                _mib(sum(st.disk.values())),
            )
        out.print(table)
    for o in outcomes:
        if o.value is not None:
            for line in status_lines(o.value):
                out.print(line, soft_wrap=True)
        elif len(outcomes) == 1:
            out.print(f"{o.server.name}: {o.error}")
