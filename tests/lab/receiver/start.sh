#!/bin/sh
# Start the verifiers, IMAP and postfix; LAB_DNS is the lab BIND's address.
set -e
lab-cert /lab/tls 127.0.0.1 mx.client.test
mkdir -p /etc/opendkim
# unbound answers NXDOMAIN for the special-use name test. unless told otherwise.
cat > /etc/opendkim/unbound.conf <<CONF
server:
  verbosity: 0
  local-zone: "test." nodefault
  domain-insecure: "test."
stub-zone:
  name: "test."
  stub-addr: ${LAB_DNS:?}
CONF
echo "nameserver ${LAB_DNS}" > /etc/resolv.conf
echo "alice:${IMAP_PASSWORD:-alice-lab-password}" > /etc/dovecot/users
mkdir -p /run/opendkim /run/opendmarc
chown opendkim /run/opendkim
chown opendmarc /run/opendmarc
opendkim -x /etc/opendkim.conf
opendmarc -c /etc/opendmarc.conf
dovecot
newaliases || true
exec postfix start-fg
