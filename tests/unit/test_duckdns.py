from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from provision.config import parse_settings
from provision.dns.duckdns import DuckDnsProvider, renewer_zone, txt_kind
from provision.dns.provider import Record
from provision.errors import DnsError

API = "https://duck.example"
TOKEN = "secret-token-123"
SPF = Record("home.duckdns.org", "TXT", ("v=spf1 a mx -all",))
DKIM = Record("mail._domainkey.home.duckdns.org", "TXT", ("v=DKIM1; k=rsa; p=AAAA",))
DMARC = Record("_dmarc.home.duckdns.org", "TXT", ("v=DMARC1; p=quarantine",))
MX = Record("home.duckdns.org", "MX", ("10 mail.home.duckdns.org.",))
A = Record("mail.home.duckdns.org", "A", ("192.0.2.1",))


def _provider(txt: str = "dkim", retries: int = 2) -> tuple[DuckDnsProvider, list[float]]:
    sleeps: list[float] = []
    provider = DuckDnsProvider(
        "home.duckdns.org", TOKEN, txt, API, retries=retries, sleep=sleeps.append
    )
    return provider, sleeps


def test_domain_must_be_a_bare_duckdns_name() -> None:
    with pytest.raises(DnsError, match=r"is not <name>\.duckdns\.org"):
        DuckDnsProvider("a.home.duckdns.org", TOKEN)


@pytest.mark.parametrize("domain", ["example.org", "a.home.duckdns.org"])
def test_the_server_renewer_gets_no_zone_for_a_domain_duckdns_does_not_hold(domain: str) -> None:
    settings = parse_settings({"domain": domain, "dns": {"provider": "duckdns"}}, "t", Path("/"))
    with pytest.raises(DnsError, match=r"is not <name>\.duckdns\.org"):
        renewer_zone(settings)


def test_the_server_renewer_publishes_under_the_bare_subname() -> None:
    settings = parse_settings(
        {"domain": "Home.DuckDNS.org", "dns": {"provider": "duckdns"}}, "t", Path("/")
    )
    assert renewer_zone(settings) == {
        "provider": "duckdns",
        "api": "https://www.duckdns.org",
        "subname": "home",
        "timeout_s": settings.dns.duckdns.timeout_s,
    }


def test_txt_kinds_are_recognised_by_name_and_value() -> None:
    assert [txt_kind(r) for r in (SPF, DKIM, DMARC)] == ["spf", "dkim", "dmarc"]


def test_publishable_keeps_a_and_the_chosen_txt() -> None:
    keep, _ = _provider("dmarc")[0].publishable([A, MX, SPF, DKIM, DMARC])
    assert keep == [A, DMARC]


def test_publishable_says_what_each_dropped_record_costs() -> None:
    _, drop = _provider()[0].publishable([A, MX, SPF, DKIM, DMARC])
    reasons = {d.record: d.reason for d in drop}
    assert set(reasons) == {MX, SPF, DMARC}
    assert "implicit MX" in reasons[MX]
    assert "no SPF" in reasons[SPF] and "(DKIM)" in reasons[SPF]
    assert "no DMARC policy" in reasons[DMARC]


@responses.activate
def test_set_txt_sends_the_bare_subname_and_the_value() -> None:
    responses.get(f"{API}/update", body="OK\nv=DKIM1\nUPDATED")
    _provider()[0].set(DKIM)
    url = responses.calls[0].request.url or ""
    params = dict(parse_qsl(urlsplit(url).query))
    assert params == {
        "domains": "home",
        "token": TOKEN,
        "txt": "v=DKIM1; k=rsa; p=AAAA",
        "verbose": "true",
    }


@responses.activate
def test_ko_is_an_error_that_names_the_cause() -> None:
    responses.get(f"{API}/update", body="KO")
    with pytest.raises(DnsError, match=r"refused \(KO\)"):
        _provider()[0].set(A)


@responses.activate
def test_server_errors_are_retried_with_backoff() -> None:
    responses.get(f"{API}/update", status=502)
    responses.get(f"{API}/update", status=503)
    responses.get(f"{API}/update", body="OK\n192.0.2.1\n\nUPDATED")
    provider, sleeps = _provider(retries=2)
    provider.set(A)
    assert len(responses.calls) == 3
    assert sleeps == [1.0, 2.0]


@responses.activate
def test_network_errors_are_retried_then_reported_without_the_token() -> None:
    responses.get(f"{API}/update", body=requests.ConnectionError(f"url ?token={TOKEN}"))
    provider, _sleeps = _provider(retries=1)
    with pytest.raises(DnsError, match="cannot reach") as e:
        provider.set(A)
    assert TOKEN not in str(e.value)
    assert len(responses.calls) == 2


@responses.activate
def test_unexpected_answer_is_an_error() -> None:
    responses.get(f"{API}/update", body="<html>maintenance</html>")
    with pytest.raises(DnsError, match="unexpected answer"):
        _provider()[0].set(A)


def test_two_txt_values_cannot_be_set() -> None:
    with pytest.raises(DnsError, match="holds exactly one"):
        _provider()[0].set(Record("_acme-challenge.home.duckdns.org", "TXT", ("a", "b")))
