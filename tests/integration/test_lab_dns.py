from __future__ import annotations

import dns.query
import dns.tsigkeyring
import dns.update

from tests.lab.bind import LabDns


def test_lab_bind_accepts_tsig_updates_and_answers_them(lab_dns: LabDns) -> None:
    keyring = dns.tsigkeyring.from_text({lab_dns.tsig_name: lab_dns.tsig_secret})
    update = dns.update.UpdateMessage(
        "client.test", keyring=keyring, keyalgorithm=lab_dns.tsig_algorithm
    )
    update.replace("probe", 60, "TXT", '"lab works"')
    response = dns.query.tcp(update, lab_dns.host, port=lab_dns.port, timeout=5)
    assert response.rcode() == 0
    answer = lab_dns.resolver().resolve("probe.client.test", "TXT")
    assert [b"".join(r.strings) for r in answer] == [b"lab works"]
