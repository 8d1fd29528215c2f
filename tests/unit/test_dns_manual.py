from __future__ import annotations

import dns.zone

from provision.dns.manual import zone_fragment
from provision.dns.provider import Record
from provision.dns.records import MailRecord

LONG = "v=DKIM1; k=rsa; p=" + "B" * 380


def test_fragment_is_a_zone_file_bind_accepts_with_long_txt_intact() -> None:
    records = [
        MailRecord("MX", Record("example.org", "MX", ("10 mail.example.org.",))),
        MailRecord("DKIM", Record("mail._domainkey.example.org", "TXT", (LONG,))),
        MailRecord("AAAA", Record("mail.example.org", "AAAA", ())),
    ]
    text = "$TTL 300\n@ IN SOA ns hostmaster 1 60 60 60 60\n@ IN NS ns\n" + zone_fragment(records)
    zone = dns.zone.from_text(text, origin="example.org.", relativize=False)
    txt = zone.find_rdataset("mail._domainkey.example.org.", "TXT")
    assert b"".join(next(iter(txt)).strings).decode() == LONG
    assert zone.get_rdataset("mail.example.org.", "AAAA") is None
