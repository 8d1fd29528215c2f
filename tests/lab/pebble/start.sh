#!/bin/sh
# Pebble with a listener certificate made here (Debian's package ships none; the tests
# trust /lab/ca.pem) and its DNS-01 checks asking the lab BIND. LAB_IP: this container's
# address; LAB_DNS: BIND's; VALIDITY_S (optional): the lifetime of the certificates issued.
set -eu
lab-cert /lab pebble localhost 127.0.0.1 "$LAB_IP"
validity=""
if [ -n "${VALIDITY_S:-}" ]; then validity=", \"certificateValidityPeriod\": $VALIDITY_S"; fi
cat > /lab/pebble.json <<JSON
{"pebble": {
  "listenAddress": "0.0.0.0:14000",
  "managementListenAddress": "0.0.0.0:15000",
  "certificate": "/lab/cert.pem",
  "privateKey": "/lab/key.pem",
  "httpPort": 5002,
  "tlsPort": 5001,
  "ocspResponderURL": "",
  "externalAccountBindingRequired": false$validity
}}
JSON
exec pebble -config /lab/pebble.json -dnsserver "$LAB_DNS:53"
