"""MTA-STS and TLS-RPT checks: the `_mta-sts` record, the policy served over HTTPS and its
agreement with the MX records, and the `_smtp._tls` reporting record."""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass

import urllib3
import urllib3.exceptions

from provision.deliverability import lookup
from provision.deliverability.result import Outcome, Problem, Status, combine, passed
from provision.deliverability.tags import TagSyntaxError, parse_tags
from provision.deliverability.target import Endpoint, Target
from provision.deliverability.tls_check import client_context
from provision.dns.records import mta_sts_id
from provision.render import MTA_STS_PATH

MODES = ("enforce", "testing", "none")
MAX_AGE = 31557600
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


class PolicySyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class StsPolicy:
    mode: str
    mx: tuple[str, ...]
    max_age: int


def parse_policy(text: str) -> StsPolicy:
    """An RFC 8461 §3.2 policy file (key: value lines)."""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise PolicySyntaxError(f"line {line!r} is not `key: value`")
        fields.setdefault(key.strip(), []).append(value.strip())
    if fields.get("version") != ["STSv1"]:
        raise PolicySyntaxError("version must be STSv1")
    mode = fields.get("mode", [""])[0]
    if mode not in MODES:
        raise PolicySyntaxError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    max_age = fields.get("max_age", [""])[0]
    if not max_age.isdigit() or int(max_age) > MAX_AGE:
        raise PolicySyntaxError(f"max_age must be 0..{MAX_AGE}, got {max_age!r}")
    mx = tuple(m.lower().rstrip(".") for m in fields.get("mx", []))
    if mode != "none" and not mx:
        raise PolicySyntaxError("no mx: line")
    return StsPolicy(mode, mx, int(max_age))


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 §4.1: exact, or `*.` standing for exactly one leftmost label."""
    if pattern.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == pattern[2:]
    return host == pattern


def sts_record_id(records: list[str]) -> str:
    """The id of the one `_mta-sts` record; ValueError says what is wrong."""
    sts = [r for r in records if r.replace(" ", "").startswith("v=STSv1")]
    if len(sts) != 1:
        raise ValueError(f"{len(sts) or 'no'} v=STSv1 records")
    try:
        tags = parse_tags(sts[0])
    except TagSyntaxError as e:
        raise ValueError(str(e)) from None
    if not _ID.match(tags.get("id", "")):
        raise ValueError("id= must be 1-32 letters and digits")
    return tags["id"]


def judge_mta_sts(record_id: str, policy_text: str, mx_hosts: list[str]) -> Outcome:
    """The policy against the DNS: it parses, names every MX, enforces, and the id tracks it."""
    expected = "v=STSv1 record, policy mode enforce naming every MX"
    try:
        policy = parse_policy(policy_text)
    except PolicySyntaxError as e:
        return Outcome(Status.FAIL, f"policy: {e}", expected, "re-provision: caddy serves it")
    problems = []
    uncovered = [h for h in mx_hosts if not any(mx_matches(p, h) for p in policy.mx)]
    if uncovered:
        problems.append(
            Problem(
                Status.FAIL,
                f"MX {', '.join(uncovered)} not in the policy",
                "list every MX host in [mta_sts] mx and re-provision",
            )
        )
    if policy.mode != "enforce":
        problems.append(
            Problem(
                Status.WARN,
                f"mode {policy.mode}",
                'once TLS-RPT reports are clean, set [mta_sts] mode = "enforce"',
            )
        )
    if record_id != mta_sts_id(policy_text):
        problems.append(
            Problem(
                Status.WARN,
                "the record's id does not follow the served policy",
                "run `invoke dns-update` so senders fetch the current policy",
            )
        )
    observed = f"id={record_id}, mode {policy.mode}, mx {', '.join(policy.mx)}"
    return combine(problems, observed, expected)


def fetch_policy(address: Endpoint, host: str, target: Target) -> tuple[int, str, str]:
    """GET the policy from `address`, presenting and verifying `host`: status, type, body."""
    ctx: ssl.SSLContext = client_context(target.ca_bundle, verify=True)
    pool = urllib3.HTTPSConnectionPool(
        address.host,
        address.port,
        server_hostname=host,
        assert_hostname=host,
        ssl_context=ctx,
        timeout=target.timeout_s,
        retries=False,
    )
    try:
        response = pool.request("GET", MTA_STS_PATH, headers={"Host": host}, redirect=False)
    finally:
        pool.close()
    body = response.data.decode(errors="replace")[:65536]
    return response.status, response.headers.get("content-type", ""), body


def _policy_address(target: Target) -> Endpoint:
    """Where senders fetch the policy when another host serves it: its A record, port 443."""
    found = lookup.addresses(target.resolver, target.mta_sts_host, "A")
    return Endpoint(found[0] if found else target.mta_sts_host, 443)


def check_mta_sts(target: Target) -> Outcome:
    host = target.mta_sts_host
    publish = f"run `invoke dns-update` (publishes _mta-sts.{target.domain})"
    expected = "v=STSv1 record, policy mode enforce naming every MX"
    try:
        record_id = sts_record_id(lookup.txt(target.resolver, f"_mta-sts.{target.domain}"))
    except ValueError as e:
        return Outcome(Status.FAIL, f"_mta-sts.{target.domain}: {e}", expected, publish)
    url = f"https://{host}{MTA_STS_PATH}"
    address = target.https if target.mta_sts_served else _policy_address(target)
    try:
        status, content_type, body = fetch_policy(address, host, target)
    except urllib3.exceptions.SSLError as e:
        return Outcome(
            Status.FAIL,
            f"https://{host}: certificate: {e}",
            expected,
            f"the certificate must name {host}: `invoke certs`",
        )
    except urllib3.exceptions.HTTPError as e:
        return Outcome(
            Status.FAIL,
            f"{url}: {e}",
            expected,
            f"serve the policy at {url} ([mta_sts] enabled = true)",
        )
    if status != 200 or not content_type.startswith("text/plain"):
        return Outcome(
            Status.FAIL,
            f"HTTP {status} {content_type}",
            "HTTP 200 text/plain",
            f"serve the policy at {url} ([mta_sts] enabled = true)",
        )
    mx_hosts = [name for _, name in lookup.mx(target.resolver, target.domain)]
    return judge_mta_sts(record_id, body, mx_hosts)


def judge_tlsrpt(domain: str, records: list[str]) -> Outcome:
    name = f"_smtp._tls.{domain}"
    expected = "one v=TLSRPTv1 record with rua=mailto: or https:"
    publish = f"run `invoke dns-update` (publishes {name})"
    found = [r for r in records if r.replace(" ", "").startswith("v=TLSRPTv1")]
    if len(found) != 1:
        return Outcome(Status.FAIL, f"{len(found) or 'no'} v=TLSRPTv1 records", expected, publish)
    try:
        tags = parse_tags(found[0])
    except TagSyntaxError as e:
        return Outcome(Status.FAIL, str(e), expected, publish)
    uris = [u.strip() for u in tags.get("rua", "").split(",") if u.strip()]
    if not uris or not all(u.startswith(("mailto:", "https:")) for u in uris):
        return Outcome(Status.FAIL, f"rua={tags.get('rua', '')!r}", expected, publish)
    return passed(f"rua={','.join(uris)}", expected)


def check_tlsrpt(target: Target) -> Outcome:
    name = f"_smtp._tls.{target.domain}"
    return judge_tlsrpt(target.domain, lookup.txt(target.resolver, name))
