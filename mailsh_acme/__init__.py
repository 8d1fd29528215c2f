"""ACME DNS-01 issuance (RFC 8555) over certbot's `acme` library, written once for both
sides: the operator's `invoke certs` (provision) and the server's own renewer
(mailsh_server.renewer). It depends only on acme, josepy, cryptography, requests and
dnspython, in Debian bookworm's versions (the server's image) as in current ones, and
on neither provision nor mailsh_server: DNS records are published through the small
`ChallengeZone` interface each side implements."""
