"""The fake behaves as the real DuckDNS API (https://www.duckdns.org/spec.jsp)."""

from __future__ import annotations

import requests

from tests.lab.duckdns import LabDuckDns


def _update(lab_duckdns: LabDuckDns, **params: str) -> str:
    query = {"token": lab_duckdns.token, **params}
    return requests.get(f"{lab_duckdns.url}/update", params=query, timeout=5).text


def _txt(lab_duckdns: LabDuckDns, name: str) -> list[str]:
    answer = lab_duckdns.dns.resolver().resolve(name, "TXT", raise_on_no_answer=False)
    return [b"".join(r.strings).decode() for r in answer]


def test_txt_answers_for_the_name_and_every_name_below(lab_duckdns: LabDuckDns) -> None:
    assert _update(lab_duckdns, domains="spare", txt="one value") == "OK"
    for name in ("spare", "_dmarc.spare", "mail._domainkey.spare", "a.b.spare"):
        assert _txt(lab_duckdns, f"{name}.duckdns.test") == ["one value"]


def test_verbose_reports_updated_then_nochange(lab_duckdns: LabDuckDns) -> None:
    first = _update(lab_duckdns, domains="spare", ip="192.0.2.7", verbose="true")
    second = _update(lab_duckdns, domains="spare", ip="192.0.2.7", verbose="true")
    assert first.splitlines() == ["OK", "192.0.2.7", "", "UPDATED"]
    assert second.splitlines()[-1] == "NOCHANGE"


def test_wrong_token_is_ko(lab_duckdns: LabDuckDns) -> None:
    params = {"domains": "spare", "token": "x", "txt": "t"}
    response = requests.get(f"{lab_duckdns.url}/update", params=params, timeout=5)
    assert response.text == "KO"


def test_full_name_or_sub_subdomain_is_ko(lab_duckdns: LabDuckDns) -> None:
    assert _update(lab_duckdns, domains="spare.duckdns.test", txt="t") == "KO"
    assert _update(lab_duckdns, domains="a.spare", txt="t") == "KO"


def test_clear_removes_the_txt(lab_duckdns: LabDuckDns) -> None:
    _update(lab_duckdns, domains="spare", txt="to clear")
    assert _update(lab_duckdns, domains="spare", txt="", clear="true") == "OK"
    assert _txt(lab_duckdns, "spare.duckdns.test") == []
