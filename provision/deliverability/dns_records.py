"""DNS checks: the hostname's addresses, the domain's MX, and forward-confirmed reverse DNS."""

from __future__ import annotations

from provision.deliverability import lookup
from provision.deliverability.result import Outcome, Status, passed
from provision.deliverability.target import Target


def public_ip(target: Target) -> str | None:
    """The configured `[dns] ip`, else the hostname's first A record."""
    if target.ip:
        return target.ip
    found = lookup.addresses(target.resolver, target.hostname, "A")
    return found[0] if found else None


def _address_outcome(name: str, rdtype: str, want: str | None, have: list[str]) -> Outcome:
    key = "ip" if rdtype == "A" else "ipv6"
    shown = ", ".join(have) or "none"
    if want is None:
        if rdtype == "A" and have:
            return Outcome(
                Status.WARN,
                shown,
                "[dns] ip set",
                f"set [dns] ip = {have[0]!r} in mailsh.toml so the checks know the public address",
            )
        if rdtype == "A":
            return Outcome(
                Status.FAIL,
                "no A record",
                f"{name} A <public IP>",
                f"publish {name} A <public IP> (invoke dns-update) and set [dns] ip",
            )
        if have:
            return Outcome(
                Status.WARN,
                shown,
                "no AAAA (no [dns] ipv6)",
                f"set [dns] ipv6 if {shown} is this server, or delete the AAAA record of {name}",
            )
        return passed("no AAAA record", "no AAAA (IPv6 not configured)")
    if have == [want]:
        return passed(shown, want)
    if not have:
        return Outcome(
            Status.FAIL,
            f"no {rdtype} record",
            want,
            f"publish {name} {rdtype} {want} (invoke dns-update)",
        )
    return Outcome(
        Status.FAIL,
        shown,
        want,
        f"publish {name} {rdtype} {want} only (invoke dns-update), or fix [dns] {key}",
    )


def check_a(target: Target) -> Outcome:
    have = lookup.addresses(target.resolver, target.hostname, "A")
    return _address_outcome(target.hostname, "A", target.ip, have)


def check_aaaa(target: Target) -> Outcome:
    have = lookup.addresses(target.resolver, target.hostname, "AAAA")
    return _address_outcome(target.hostname, "AAAA", target.ipv6, have)


def mx_outcome(
    domain: str, hostname: str, records: list[tuple[int, str]], domain_addresses: list[str]
) -> Outcome:
    """The MX must name the hostname. Without any MX, mail still goes to the domain's own
    address (implicit MX, RFC 5321 §5.1): a warning when there is one, else a failure."""
    shown = ", ".join(f"{pref} {name}" for pref, name in records) or "no MX record"
    expected = f"MX {domain} -> {hostname}"
    publish = f"publish {domain} MX 10 {hostname} (invoke dns-update)"
    if any(name == hostname for _, name in records):
        return passed(shown, expected)
    if not records and domain_addresses:
        implicit = f"no MX record: mail goes to {domain}'s address {domain_addresses[0]}"
        return Outcome(Status.WARN, implicit, expected, publish)
    return Outcome(Status.FAIL, shown, expected, publish)


def check_mx(target: Target) -> Outcome:
    records = lookup.mx(target.resolver, target.domain)
    addresses = [] if records else lookup.addresses(target.resolver, target.domain, "A")
    return mx_outcome(target.domain, target.hostname, records, addresses)


def fcrdns_outcome(ip: str, hostname: str, names: list[str], confirmed: dict[str, bool]) -> Outcome:
    """Forward-confirmed reverse DNS: a PTR name of `ip` whose A record is `ip` again."""
    expected = f"PTR {ip} -> {hostname}, and {hostname} -> {ip}"
    fix_ptr = f"ask the owner of {ip} (your hosting or ISP) to set its PTR to {hostname}"
    if not names:
        return Outcome(Status.FAIL, f"no PTR for {ip}", expected, fix_ptr)
    shown = ", ".join(names)
    good = [n for n in names if confirmed.get(n)]
    if hostname in good:
        return passed(shown, expected)
    if good:
        return Outcome(
            Status.WARN,
            f"{shown} (forward-confirmed, not the hostname)",
            expected,
            f"{fix_ptr}, or set hostname = {good[0]!r} in mailsh.toml",
        )
    return Outcome(
        Status.FAIL,
        f"{shown} (does not resolve back to {ip})",
        expected,
        f"{fix_ptr}, and publish {hostname} A {ip}",
    )


def check_ptr(target: Target) -> Outcome:
    ip = public_ip(target)
    if ip is None:
        return Outcome(Status.FAIL, "no public IP known", "[dns] ip", "set [dns] ip in mailsh.toml")
    names = lookup.ptr(target.resolver, ip)
    rdtype = "AAAA" if ":" in ip else "A"
    confirmed = {n: ip in lookup.addresses(target.resolver, n, rdtype) for n in names}
    return fcrdns_outcome(ip, target.hostname, names, confirmed)
