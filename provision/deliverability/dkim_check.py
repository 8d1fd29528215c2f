"""The DKIM check: `<selector>._domainkey` publishes the public half of the state's key."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from provision.deliverability import lookup
from provision.deliverability.result import Outcome, Status, passed
from provision.deliverability.tags import TagSyntaxError, parse_tags
from provision.deliverability.target import Target

MIN_BITS = 2048
WEAK_BITS = 1024


def dkim_outcome(name: str, records: list[str], want_b64: str | None) -> Outcome:
    """Judge the TXT records found at `name` against the `p=` value the server signs with."""
    publish = "publish the record `invoke provision` prints (invoke dns-update)"
    expected = "one v=DKIM1 record with the state's public key, RSA >= 2048 bits"
    if want_b64 is None:
        return Outcome(
            Status.ERROR,
            "no DKIM key in the state directory",
            expected,
            "run `invoke provision` first",
        )
    if not records:
        return Outcome(Status.FAIL, f"no TXT record at {name}", expected, publish)
    if len(records) > 1:
        return Outcome(
            Status.FAIL,
            f"{len(records)} TXT records at {name}",
            expected,
            f"keep only the record `invoke provision` prints at {name}",
        )
    try:
        tags = parse_tags(records[0])
    except TagSyntaxError as e:
        return Outcome(Status.FAIL, str(e), expected, publish)
    if tags.get("v", "DKIM1") != "DKIM1" or tags.get("k", "rsa") != "rsa" or "p" not in tags:
        have_p = "present" if "p" in tags else "missing"
        shown = f"v={tags.get('v')}, k={tags.get('k', 'rsa')}, p= {have_p}"
        return Outcome(Status.FAIL, shown, expected, publish)
    p = "".join(tags["p"].split())
    if not p:
        return Outcome(Status.FAIL, "p= is empty (key revoked)", expected, publish)
    try:
        key = serialization.load_der_public_key(base64.b64decode(p, validate=True))
    except (ValueError, binascii.Error):
        return Outcome(Status.FAIL, "p= is not a base64 public key", expected, publish)
    if not isinstance(key, rsa.RSAPublicKey):
        return Outcome(Status.FAIL, "p= is not an RSA key", expected, publish)
    bits = key.key_size
    if p != want_b64:
        return Outcome(
            Status.FAIL,
            f"a {bits}-bit key that is not the server's",
            expected,
            f"replace the record at {name} with the one `invoke provision` prints",
        )
    if bits < WEAK_BITS:
        return Outcome(
            Status.FAIL,
            f"{bits}-bit key",
            expected,
            "set [dkim] bits = 2048 with a new selector and publish its record",
        )
    if bits < MIN_BITS:
        return Outcome(
            Status.WARN,
            f"{bits}-bit key",
            expected,
            "set [dkim] bits = 2048 with a new selector and publish its record",
        )
    return passed(f"the server's {bits}-bit key", expected)


def check_dkim(target: Target) -> Outcome:
    name = f"{target.selector}._domainkey.{target.domain}"
    return dkim_outcome(name, lookup.txt(target.resolver, name), target.dkim_public_b64)
