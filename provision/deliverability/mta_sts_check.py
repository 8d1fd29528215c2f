"""MTA-STS and TLS-RPT checks: the `_mta-sts` record, the policy served over HTTPS and its
agreement with the MX records, and the `_smtp._tls` reporting record."""

from __future__ import annotations

import ssl

import urllib3
import urllib3.exceptions

from provision.deliverability import lookup
from provision.deliverability.checkdmarc_parse import (
    RecordError,
    StsPolicy,
    mx_matches,
    parse_sts_policy,
    sts_record_id,
    tlsrpt_uris,
)
from provision.deliverability.result import Outcome, Problem, Status, combine, passed
from provision.deliverability.target import Endpoint, Target
from provision.deliverability.tls_check import client_context
from provision.dns.records import mta_sts_id
from provision.render import MTA_STS_PATH


def record_id(records: list[str]) -> str:
    """The id of the one `_mta-sts` record; RecordError says what is wrong."""
    sts = [r for r in records if r.replace(" ", "").startswith("v=STSv1")]
    if len(sts) != 1:
        raise RecordError(f"{len(sts) or 'no'} v=STSv1 records")
    return sts_record_id(sts[0])


def judge_mta_sts(record_id: str, policy_text: str, mx_hosts: list[str]) -> Outcome:
    """The policy against the DNS: it parses, names every MX, enforces, and the id tracks it."""
    expected = "v=STSv1 record, policy mode enforce naming every MX"
    try:
        policy: StsPolicy = parse_sts_policy(policy_text)
    except RecordError as e:
        return Outcome(Status.FAIL, f"policy: {e}", expected, "re-provision: caddy serves it")
    problems = [
        Problem(Status.WARN, f"policy: {w}", "re-provision: caddy serves it")
        for w in policy.warnings
    ]
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
        found_id = record_id(lookup.txt(target.resolver, f"_mta-sts.{target.domain}"))
    except RecordError as e:
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
    return judge_mta_sts(found_id, body, mx_hosts)


def judge_tlsrpt(domain: str, records: list[str]) -> Outcome:
    name = f"_smtp._tls.{domain}"
    expected = "one v=TLSRPTv1 record with rua=mailto: or https:"
    publish = f"run `invoke dns-update` (publishes {name})"
    found = [r for r in records if r.replace(" ", "").startswith("v=TLSRPTv1")]
    if len(found) != 1:
        return Outcome(Status.FAIL, f"{len(found) or 'no'} v=TLSRPTv1 records", expected, publish)
    try:
        uris = tlsrpt_uris(found[0])
    except RecordError as e:
        return Outcome(Status.FAIL, str(e), expected, publish)
    return passed(f"rua={','.join(uris)}", expected)


def check_tlsrpt(target: Target) -> Outcome:
    name = f"_smtp._tls.{target.domain}"
    return judge_tlsrpt(target.domain, lookup.txt(target.resolver, name))
