"""The fully provisioned lab (rfc2136 DNS, Pebble certificate, receiver for client.test):
every check passes, `invoke check-deliverability` gates on failures, and the receiver's own
verifiers agree."""

from __future__ import annotations

import json

import jsonschema

from provision.deliverability.report import load_schema
from tests.lab.mail_lab import LabMailServer
from tests.lab.zones import LabZones, txt


def _statuses(doc: dict[str, object]) -> dict[str, str]:
    results = doc["results"]
    assert isinstance(results, list)
    return {r["name"]: r["status"] for r in results}


def test_fully_provisioned_lab_passes_every_check(lab_mail_server: LabMailServer) -> None:
    run = lab_mail_server.check("--json")
    doc = json.loads(run.stdout)
    jsonschema.validate(doc, load_schema())
    statuses = _statuses(doc)
    skipped = {"relay-host": "skip", "end-to-end": "skip"}
    assert {n: s for n, s in statuses.items() if s != "pass"} == skipped, doc
    assert run.returncode == 0, run.stderr


def test_send_passes_every_check_with_the_receivers_spf_dkim_dmarc_pass(
    lab_mail_server: LabMailServer,
) -> None:
    run = lab_mail_server.check("--json", "--send")
    doc = json.loads(run.stdout or "{}")
    assert run.returncode == 0, run.stdout + run.stderr
    jsonschema.validate(doc, load_schema())
    statuses = _statuses(doc)
    assert {n: s for n, s in statuses.items() if s != "pass"} == {"relay-host": "skip"}, doc
    e2e = next(r for r in doc["results"] if r["name"] == "end-to-end")
    assert e2e["observed"] == "spf=pass, dkim=pass, dmarc=pass"


def test_send_reports_the_receivers_spf_failure_for_the_replies(
    lab_mail_server: LabMailServer, lab_zones: LabZones
) -> None:
    # Replies have a null sender, so the receiver judges SPF on the HELO name's record.
    # (Not DKIM here: the receiver's opendkim caches the key it saw for the record's TTL.)
    hostname = lab_mail_server.server.settings.fqdn
    with lab_zones.changed({(hostname, "TXT"): [txt("v=spf1 -all")]}):
        run = lab_mail_server.check("--json", "--send", "--only", "end-to-end")
    doc = json.loads(run.stdout or "{}")
    assert run.returncode == 1, run.stdout + run.stderr
    e2e = doc["results"][0]
    assert e2e["status"] == "fail"
    assert e2e["observed"].startswith("spf=fail, dkim=pass, dmarc=pass")
    assert "spf check" in e2e["fix"]


def test_a_failing_check_makes_the_command_exit_1_and_names_the_fix(
    lab_mail_server: LabMailServer, lab_zones: LabZones
) -> None:
    lab_zones.list_ip(lab_mail_server.ip)
    try:
        run = lab_mail_server.check("--json", "--only", "dnsbl,spf")
    finally:
        lab_zones.unlist_ip(lab_mail_server.ip)
    doc = json.loads(run.stdout)
    jsonschema.validate(doc, load_schema())
    assert run.returncode == 1
    assert _statuses(doc) == {"spf": "pass", "dnsbl": "fail"}
    assert "delisting" in doc["results"][1]["fix"]


def test_table_report_ends_with_the_summary_line(lab_mail_server: LabMailServer) -> None:
    run = lab_mail_server.check("--only", "tls")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith("OK: 2 checks, 2 pass in ")


def test_unknown_check_name_is_a_one_line_error(lab_mail_server: LabMailServer) -> None:
    run = lab_mail_server.check("--skip", "nonsense")
    assert run.returncode == 1
    assert "unknown check 'nonsense'" in run.stderr


def test_mail_from_the_server_passes_spf_dkim_and_dmarc_at_the_receiver(
    lab_mail_server: LabMailServer,
) -> None:
    settings = lab_mail_server.server.settings
    sender = f"robot@{settings.domain}"
    message = (
        f"From: {sender}\nTo: {lab_mail_server.receiver.address}\n"
        "Subject: receiver verdicts 5e1d\n\nhello receiver\n"
    )
    code, out = lab_mail_server.server.exec(
        ["sh", "-c", f"printf '%s' '{message}' | /usr/sbin/sendmail -t -f {sender}"]
    )
    assert code == 0, out
    received = lab_mail_server.receiver.wait_for("receiver verdicts 5e1d")
    results = " ".join(str(h) for h in received.get_all("Authentication-Results", []))
    assert "spf=pass" in results, results
    assert "dkim=pass" in results, results
    assert "dmarc=pass" in results, results


def _only(server: LabMailServer, name: str) -> dict[str, str]:
    run = server.check("--json", "--only", name)
    result = json.loads(run.stdout)["results"][0]
    assert isinstance(result, dict)
    return result


def test_missing_mta_sts_record_fails_and_says_to_publish_it(
    lab_mail_server: LabMailServer, lab_zones: LabZones
) -> None:
    domain = lab_mail_server.server.settings.domain
    with lab_zones.changed(delete=[(f"_mta-sts.{domain}", "TXT")]):
        result = _only(lab_mail_server, "mta-sts")
    assert result["status"] == "fail"
    assert "dns-update" in result["fix"]


def test_mx_not_named_by_the_mta_sts_policy_fails(
    lab_mail_server: LabMailServer, lab_zones: LabZones
) -> None:
    domain = lab_mail_server.server.settings.domain
    mx = [f"10 {lab_mail_server.server.settings.fqdn}.", f"20 backup.{domain}."]
    # BIND refuses an MX whose in-zone target has no address.
    with lab_zones.changed({(f"backup.{domain}", "A"): ["192.0.2.25"], (domain, "MX"): mx}):
        result = _only(lab_mail_server, "mta-sts")
    assert result["status"] == "fail"
    assert f"backup.{domain} not in the policy" in result["observed"]
    assert "[mta_sts] mx" in result["fix"]


def test_missing_tls_rpt_record_fails(lab_mail_server: LabMailServer, lab_zones: LabZones) -> None:
    domain = lab_mail_server.server.settings.domain
    with lab_zones.changed(delete=[(f"_smtp._tls.{domain}", "TXT")]):
        result = _only(lab_mail_server, "tls-rpt")
    assert result["status"] == "fail"
    assert f"_smtp._tls.{domain}" in result["fix"]
