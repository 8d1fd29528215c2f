#!/bin/sh
# lab-cert DIR NAME...: a throwaway CA (DIR/ca.pem, for the tests to trust) and a
# certificate for the NAMEs (DNS names or IPv4 addresses) that it signed: DIR/cert.pem
# (the certificate, then the CA) and DIR/key.pem.
set -eu
dir=$1
shift
mkdir -p "$dir"
cd "$dir"
san=""
for name in "$@"; do
  case $name in
    *[!0-9.]*) san="$san,DNS:$name" ;;
    *) san="$san,IP:$name" ;;
  esac
done
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -days 365 -subj "/CN=mailsh lab test CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req $ec -subj "/CN=$1" -keyout key.pem -out leaf.csr 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
  "${san#,}" > leaf.ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
  -extfile leaf.ext -out leaf.pem 2>/dev/null
cat leaf.pem ca.pem > cert.pem
rm -f ca.key ca.srl leaf.csr leaf.ext leaf.pem
