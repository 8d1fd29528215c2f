#!/bin/sh
# Fresh zones and named.conf from the environment, then named in the foreground.
# LAB_NET: the lab /24 as its first three octets (this BIND is LAB_NET.53); ZONES: the
# zones served, besides the lab's reverse zone, the first one holding ns.<zone>; RECORDS:
# zone-file lines with absolute names, each put in the zone it belongs to; TSIG_NAME,
# TSIG_ALGORITHM, TSIG_SECRET: the key allowed to update every zone.
set -eu
data=/lab/data
mkdir -p "$data"
reverse=$(echo "$LAB_NET" | awk -F. '{ print $3 "." $2 "." $1 ".in-addr.arpa" }')
primary=${ZONES%% *}
{
  echo "key \"$TSIG_NAME\" { algorithm $TSIG_ALGORITHM; secret \"$TSIG_SECRET\"; };"
  echo "options {"
  echo "  directory \"$data\";"
  echo "  listen-on port 53 { any; };"
  echo "  listen-on-v6 { none; };"
  echo "  recursion no;"
  echo "  notify no;"
  echo "  allow-query { any; };"
  echo "  dnssec-validation no;"
  echo "};"
} > /lab/named.conf
for zone in $ZONES $reverse; do
  {
    echo "\$ORIGIN $zone."
    echo "\$TTL 60"
    echo "@ IN SOA ns.$primary. hostmaster.$zone. 1 60 60 3600 60"
    echo "@ IN NS ns.$primary."
    if [ "$zone" = "$primary" ]; then echo "ns IN A $LAB_NET.53"; fi
    printf '%s\n' "${RECORDS:-}" | awk -v zone="$zone." \
      '$1 == zone || substr($1, length($1) - length(zone)) == "." zone { print }'
  } > "$data/$zone.zone"
  echo "zone \"$zone\" { type primary; file \"$data/$zone.zone\"; allow-update { key \"$TSIG_NAME\"; }; };" \
    >> /lab/named.conf
done
exec named -g -c /lab/named.conf
