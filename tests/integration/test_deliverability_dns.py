"""DNS-side deliverability checks against the lab BIND: each passes, then fails when broken."""

from __future__ import annotations

import requests

from provision.deliverability.dkim_check import check_dkim
from provision.deliverability.dmarc_check import check_dmarc
from provision.deliverability.dns_records import check_a, check_aaaa, check_mx, check_ptr
from provision.deliverability.dnsbl import check_dnsbl
from provision.deliverability.duckdns_check import check_duckdns
from provision.deliverability.result import Status
from provision.deliverability.spf_check import check_spf, check_spf_helo
from tests.fixtures.deliverability import Scenario
from tests.lab.bind import PRIVATE_TLD, LabDns
from tests.lab.duckdns import LabDuckDns
from tests.lab.zones import LabZones, txt

OTHER_IP = "192.0.2.77"


def test_a_record_of_the_configured_ip_passes(lab_scenario: Scenario, lab_dns: LabDns) -> None:
    assert check_a(lab_scenario.target(lab_dns)).status == Status.PASS


def test_a_record_of_another_ip_fails_and_names_the_record(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply({(lab_scenario.hostname, "A"): [OTHER_IP]})
    outcome = check_a(lab_scenario.target(lab_dns))
    assert outcome.status == Status.FAIL
    assert f"{lab_scenario.hostname} A {lab_scenario.ip}" in outcome.fix


def test_no_aaaa_without_ipv6_passes(lab_scenario: Scenario, lab_dns: LabDns) -> None:
    assert check_aaaa(lab_scenario.target(lab_dns)).status == Status.PASS


def test_aaaa_of_another_address_fails(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply({(lab_scenario.hostname, "AAAA"): ["2001:db8::99"]})
    outcome = check_aaaa(lab_scenario.target(lab_dns, ipv6="2001:db8::1"))
    assert outcome.status == Status.FAIL
    assert "AAAA 2001:db8::1" in outcome.fix


def test_mx_naming_the_host_passes(lab_scenario: Scenario, lab_dns: LabDns) -> None:
    assert check_mx(lab_scenario.target(lab_dns)).status == Status.PASS


def test_missing_mx_fails_and_names_the_record(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply(delete=[(lab_scenario.domain, "MX")])
    outcome = check_mx(lab_scenario.target(lab_dns))
    assert outcome.status == Status.FAIL
    assert f"MX 10 {lab_scenario.hostname}" in outcome.fix


def test_forward_confirmed_ptr_passes(lab_scenario: Scenario, lab_dns: LabDns) -> None:
    assert check_ptr(lab_scenario.target(lab_dns)).status == Status.PASS


def test_missing_ptr_fails_and_says_who_sets_it(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply(delete=[(lab_scenario.ptr_name(), "PTR")])
    outcome = check_ptr(lab_scenario.target(lab_dns))
    assert outcome.status == Status.FAIL
    assert f"PTR to {lab_scenario.hostname}" in outcome.fix


def test_ptr_whose_name_does_not_resolve_back_fails(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply({(lab_scenario.hostname, "A"): [OTHER_IP]})
    outcome = check_ptr(lab_scenario.target(lab_dns))
    assert outcome.status == Status.FAIL
    assert "does not resolve back" in outcome.observed


def test_default_spf_record_authorizes_the_server(lab_scenario: Scenario, lab_dns: LabDns) -> None:
    outcome = check_spf(lab_scenario.target(lab_dns))
    assert outcome.status == Status.PASS, outcome
    assert f"{lab_scenario.ip} pass" in outcome.observed


def test_spf_not_covering_the_ip_fails_and_says_what_to_add(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply({(lab_scenario.domain, "TXT"): [txt(f"v=spf1 ip4:{OTHER_IP} -all")]})
    outcome = check_spf(lab_scenario.target(lab_dns))
    assert outcome.status == Status.FAIL
    assert f"ip4:{lab_scenario.ip}" in outcome.fix


def test_spf_authorization_through_an_include_passes(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply(
        {
            (lab_scenario.domain, "TXT"): [txt(f"v=spf1 include:_spf.{lab_scenario.domain} -all")],
            (f"_spf.{lab_scenario.domain}", "TXT"): [txt(f"v=spf1 ip4:{lab_scenario.ip} ~all")],
        }
    )
    outcome = check_spf(lab_scenario.target(lab_dns))
    assert outcome.status == Status.PASS, outcome
    assert "1 lookups" in outcome.observed


def test_two_spf_records_fail(lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones) -> None:
    lab_zones.apply({(lab_scenario.domain, "TXT"): [txt("v=spf1 a -all"), txt("v=spf1 mx -all")]})
    outcome = check_spf(lab_scenario.target(lab_dns))
    assert outcome.status == Status.FAIL
    assert "merge" in outcome.fix


def test_spf_over_ten_lookups_fails(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    terms = " ".join([f"a:{lab_scenario.hostname}"] * 10)
    lab_zones.apply({(lab_scenario.domain, "TXT"): [txt(f"v=spf1 {terms} mx -all")]})
    outcome = check_spf(lab_scenario.target(lab_dns))
    assert outcome.status == Status.FAIL
    assert "11 DNS-querying terms" in outcome.observed


def test_spf_with_three_void_lookups_fails(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    voids = " ".join(f"a:void{i}.{lab_scenario.domain}" for i in range(3))
    lab_zones.apply({(lab_scenario.domain, "TXT"): [txt(f"v=spf1 {voids} mx -all")]})
    outcome = check_spf(lab_scenario.target(lab_dns))
    assert outcome.status == Status.FAIL
    assert "3 void lookups" in outcome.observed


def test_spf_ending_in_question_all_warns(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply({(lab_scenario.domain, "TXT"): [txt("v=spf1 a mx ?all")]})
    outcome = check_spf(lab_scenario.target(lab_dns))
    assert outcome.status == Status.WARN
    assert "-all" in outcome.fix


def test_helo_spf_record_authorizes_null_sender_mail(
    lab_scenario: Scenario, lab_dns: LabDns
) -> None:
    assert check_spf_helo(lab_scenario.target(lab_dns)).status == Status.PASS


def test_missing_helo_spf_record_warns_that_replies_get_none(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply(delete=[(lab_scenario.hostname, "TXT")])
    outcome = check_spf_helo(lab_scenario.target(lab_dns))
    assert outcome.status == Status.WARN
    assert f'{lab_scenario.hostname} TXT "v=spf1 a -all"' in outcome.fix


def test_helo_spf_record_not_covering_the_ip_fails(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply({(lab_scenario.hostname, "TXT"): [txt(f"v=spf1 ip4:{OTHER_IP} -all")]})
    assert check_spf_helo(lab_scenario.target(lab_dns)).status == Status.FAIL


def test_dkim_record_of_the_state_key_passes(lab_scenario: Scenario, lab_dns: LabDns) -> None:
    assert check_dkim(lab_scenario.target(lab_dns)).status == Status.PASS


def test_dkim_record_of_another_key_fails(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    other = lab_scenario.target(lab_dns, dkim_public_b64=lab_scenario.dkim_public_b64[::-1])
    outcome = check_dkim(other)
    assert outcome.status == Status.FAIL
    assert "invoke provision" in outcome.fix


def test_missing_dkim_record_fails(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply(delete=[(f"mail._domainkey.{lab_scenario.domain}", "TXT")])
    assert check_dkim(lab_scenario.target(lab_dns)).status == Status.FAIL


def test_dmarc_quarantine_passes(lab_scenario: Scenario, lab_dns: LabDns) -> None:
    assert check_dmarc(lab_scenario.target(lab_dns)).status == Status.PASS


def test_missing_dmarc_fails_and_names_the_record(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.apply(delete=[(f"_dmarc.{lab_scenario.domain}", "TXT")])
    outcome = check_dmarc(lab_scenario.target(lab_dns))
    assert outcome.status == Status.FAIL
    assert f"_dmarc.{lab_scenario.domain} TXT" in outcome.fix


def test_dmarc_p_none_warns(lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones) -> None:
    lab_zones.apply({(f"_dmarc.{lab_scenario.domain}", "TXT"): [txt("v=DMARC1; p=none")]})
    assert check_dmarc(lab_scenario.target(lab_dns)).status == Status.WARN


def test_external_dmarc_reports_need_the_other_domains_consent(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    vendor = f"vendor.{PRIVATE_TLD}"
    lab_zones.apply(
        {
            (f"mx.{vendor}", "A"): [lab_scenario.ip],
            (vendor, "MX"): [f"10 mx.{vendor}."],
            (f"_dmarc.{lab_scenario.domain}", "TXT"): [
                txt(f"v=DMARC1; p=reject; rua=mailto:reports@{vendor}")
            ],
        },
        delete=[(f"{lab_scenario.domain}._report._dmarc.{vendor}", "TXT")],
    )
    refused = check_dmarc(lab_scenario.target(lab_dns))
    consent = f"{lab_scenario.domain}._report._dmarc.{vendor}"
    lab_zones.apply({(consent, "TXT"): [txt("v=DMARC1")]})
    accepted = check_dmarc(lab_scenario.target(lab_dns))
    assert refused.status == Status.WARN
    assert consent in refused.fix
    assert accepted.status == Status.PASS, accepted


def test_unlisted_ip_passes_the_blocklist_check(lab_scenario: Scenario, lab_dns: LabDns) -> None:
    assert check_dnsbl(lab_scenario.target(lab_dns)).status == Status.PASS


def test_listed_ip_fails_and_says_to_request_delisting(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.list_ip(lab_scenario.ip)
    outcome = check_dnsbl(lab_scenario.target(lab_dns))
    assert outcome.status == Status.FAIL
    assert "delisting" in outcome.fix


def test_refused_blocklist_query_is_an_error_not_a_listing(
    lab_scenario: Scenario, lab_dns: LabDns, lab_zones: LabZones
) -> None:
    lab_zones.list_ip(lab_scenario.ip, code="127.255.255.254")
    outcome = check_dnsbl(lab_scenario.target(lab_dns))
    assert outcome.status == Status.ERROR
    assert "refused" in outcome.observed


def test_separate_txt_records_pass_the_duckdns_check(
    lab_scenario: Scenario, lab_dns: LabDns
) -> None:
    assert check_duckdns(lab_scenario.target(lab_dns)).status == Status.PASS


def test_duckdns_single_txt_warns_and_names_the_missing_records(
    lab_dns: LabDns, lab_duckdns: LabDuckDns, scenario_identity: Scenario
) -> None:
    value = f"v=DKIM1; k=rsa; p={scenario_identity.dkim_public_b64}"
    response = requests.get(
        f"{lab_duckdns.url}/update",
        params={"domains": "checks", "token": lab_duckdns.token, "txt": value},
        timeout=10,
    )
    assert response.text.startswith("OK"), response.text
    domain = f"checks.{lab_duckdns.zone}"
    target = scenario_identity.target(lab_dns, domain=domain, hostname=domain)
    outcome = check_duckdns(target)
    assert outcome.status == Status.WARN
    assert "DKIM published, so SPF, DMARC, MTA-STS, TLS-RPT are missing" in outcome.observed
    assert check_dkim(target).status == Status.PASS
