"""A DuckDNS-compatible update API for the offline lab (https://www.duckdns.org/spec.jsp).

GET /update?domains=A[,B]&token=T[&ip=][&ipv6=][&txt=][&clear=true][&verbose=true]
answers OK or KO (text/plain), and writes into the lab BIND with RFC 2136,
under the zone DUCKDNS_ZONE. Like the real service, a name's A, AAAA and its
ONE TXT value answer for the name and every name below it (here through
`*.<name>` wildcard records), and only bare subnames of the account are
accepted ("myhost", not "myhost.duckdns.org" nor "a.myhost").

Configuration (environment): DUCKDNS_TOKEN, DUCKDNS_DOMAINS (the account's
subnames, comma-separated), DUCKDNS_ZONE, BIND_SERVER, BIND_PORT, TSIG_NAME,
TSIG_SECRET, TSIG_ALGORITHM. Runs with Debian's python3 and python3-dnspython.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import dns.name
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update

TTL = 60
ENV = os.environ
TOKEN = ENV["DUCKDNS_TOKEN"]
ACCOUNT = {d.strip() for d in ENV["DUCKDNS_DOMAINS"].split(",") if d.strip()}
ZONE = ENV["DUCKDNS_ZONE"]
KEYRING = dns.tsigkeyring.from_text({ENV["TSIG_NAME"]: ENV["TSIG_SECRET"]})
LOCK = threading.Lock()
# (subname, rtype) -> value, to answer UPDATED or NOCHANGE as the real service does.
CURRENT: dict[tuple[str, str], str] = {}


def _txt_rdata(value: str) -> str:
    raw = value.encode()
    chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    quoted = (c.decode().replace("\\", "\\\\").replace('"', '\\"') for c in chunks)
    return " ".join(f'"{q}"' for q in quoted)


def write_bind(sub: str, rtype: str, value: str | None) -> None:
    """Replace (or delete, for None) rtype at <sub>.<zone> and *.<sub>.<zone>."""
    update = dns.update.UpdateMessage(
        ZONE, keyring=KEYRING, keyalgorithm=dns.name.from_text(ENV["TSIG_ALGORITHM"])
    )
    for owner in (sub, f"*.{sub}"):
        if value is None:
            update.delete(owner, rtype)
        else:
            update.replace(owner, TTL, rtype, _txt_rdata(value) if rtype == "TXT" else value)
    response = dns.query.tcp(update, ENV["BIND_SERVER"], port=int(ENV["BIND_PORT"]), timeout=5)
    if response.rcode() != dns.rcode.NOERROR:
        raise RuntimeError(f"BIND refused the update: {dns.rcode.to_text(response.rcode())}")


def change(sub: str, rtype: str, value: str | None) -> bool:
    """Apply one value; True when it changed something."""
    key = (sub, rtype)
    if CURRENT.get(key) == value:
        return False
    write_bind(sub, rtype, value)
    if value is None:
        CURRENT.pop(key, None)
    else:
        CURRENT[key] = value
    return True


def _ip(value: str, version: int) -> str | None:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    return str(addr) if addr.version == version else None


def handle(query: dict[str, list[str]], client_ip: str) -> tuple[bool, list[str]]:
    """Apply one /update request; returns (ok, verbose lines after OK)."""

    def arg(name: str) -> str | None:
        return query[name][0] if name in query else None

    subs = [d.strip().lower() for d in (arg("domains") or "").split(",") if d.strip()]
    if arg("token") != TOKEN or not subs or any(s not in ACCOUNT for s in subs):
        return False, []
    clear = (arg("clear") or "").lower() == "true"
    updated = False
    with LOCK:
        if "txt" in query:
            txt = arg("txt") or ""
            for sub in subs:
                updated |= change(sub, "TXT", None if clear else txt)
            return True, ["" if clear else txt, "UPDATED" if updated else "NOCHANGE"]
        ip, ipv6 = arg("ip"), arg("ipv6")
        if clear:
            for sub in subs:
                updated |= change(sub, "A", None)
                updated |= change(sub, "AAAA", None)
            return True, ["", "", "UPDATED" if updated else "NOCHANGE"]
        v4 = v6 = None
        if ip:
            v4, v6 = _ip(ip, 4), _ip(ip, 6)
            if v4 is None and v6 is None:
                return False, []
        if ipv6:
            v6 = _ip(ipv6, 6)
            if v6 is None:
                return False, []
        if not ip and not ipv6:
            v4 = _ip(client_ip, 4)
        for sub in subs:
            if v4 is not None:
                updated |= change(sub, "A", v4)
            if v6 is not None:
                updated |= change(sub, "AAAA", v6)
        return True, [v4 or "", v6 or "", "UPDATED" if updated else "NOCHANGE"]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/health":
            self._send(200, "OK")
            return
        if url.path != "/update":
            self._send(404, "not found")
            return
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            ok, lines = handle(query, self.client_address[0])
        except Exception as e:
            self._send(500, f"error: {e}")
            return
        verbose = (query.get("verbose", [""])[0]).lower() == "true"
        self._send(200, "\n".join(["OK", *lines]) if ok and verbose else ("OK" if ok else "KO"))

    def _send(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        # Never log the query string: it carries the token.
        sys.stderr.write(f"{self.address_string()} {self.command} {urlsplit(self.path).path}\n")


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 80), Handler).serve_forever()  # noqa: S104
