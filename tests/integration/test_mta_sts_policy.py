from __future__ import annotations

import hashlib
import http.client
import ssl

from provision.dns.records import mta_sts_policy, mta_sts_value
from tests.fixtures.server import RunningServer


def test_caddy_serves_the_policy_whose_hash_is_the_dns_id(running_server: RunningServer) -> None:
    settings = running_server.settings
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(*running_server.https, context=context, timeout=10)
    conn.request("GET", "/.well-known/mta-sts.txt", headers={"Host": f"mta-sts.{settings.domain}"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.status == 200
    assert (response.getheader("Content-Type") or "").startswith("text/plain")
    assert body.decode() == mta_sts_policy(settings)
    digest = hashlib.sha256(body).hexdigest()
    assert mta_sts_value(settings) == f"v=STSv1; id={digest[:20]}"
