from __future__ import annotations

import pytest

from provision.dns.duckdns import DuckDnsProvider
from provision.dns.provider import Record
from provision.errors import DnsError
from tests.lab.duckdns import LabDuckDns

NAME = "spare.duckdns.test"


def _provider(lab_duckdns: LabDuckDns, token: str | None = None) -> DuckDnsProvider:
    return DuckDnsProvider(
        NAME,
        token or lab_duckdns.token,
        api=lab_duckdns.url,
        zone=lab_duckdns.zone,
        nameservers=[(lab_duckdns.dns.host, lab_duckdns.dns.port)],
        retries=0,
    )


def test_txt_set_through_the_api_is_read_back_below_the_name(lab_duckdns: LabDuckDns) -> None:
    provider = _provider(lab_duckdns)
    provider.set(Record(f"_acme-challenge.{NAME}", "TXT", ("challenge-1",)))
    assert provider.read(f"_acme-challenge.{NAME}", "TXT") == ("challenge-1",)
    assert provider.read(f"_dmarc.{NAME}", "TXT") == ("challenge-1",)


def test_a_record_is_set_and_deleted(lab_duckdns: LabDuckDns) -> None:
    provider = _provider(lab_duckdns)
    provider.set(Record(f"mail.{NAME}", "A", ("192.0.2.44",)))
    assert provider.read(f"mail.{NAME}", "A") == ("192.0.2.44",)
    provider.delete(f"mail.{NAME}", "A")
    assert provider.read(NAME, "A") == ()


def test_txt_delete_clears_the_value(lab_duckdns: LabDuckDns) -> None:
    provider = _provider(lab_duckdns)
    provider.set(Record(NAME, "TXT", ("to delete",)))
    provider.delete(NAME, "TXT")
    assert provider.read(NAME, "TXT") == ()


def test_wrong_token_is_a_clear_error_and_changes_nothing(lab_duckdns: LabDuckDns) -> None:
    good = _provider(lab_duckdns)
    good.set(Record(NAME, "TXT", ("before",)))
    with pytest.raises(DnsError, match=r"refused \(KO\)"):
        _provider(lab_duckdns, token="wrong").set(Record(NAME, "TXT", ("after",)))
    assert good.read(NAME, "TXT") == ("before",)
