"""Client side of shell by mail: `invoke keygen`, `trust`, `server-key` and `send`.

- `keys`: the user's GnuPG keys: create, export, the one to sign with, trust one.
- `server_key`: the server's own key (encrypted requests, signed replies).
- `request_mail`: a request mail in one of the four formats, from signed bytes (pure).
- `send`: sign (and seal) a command, submit it, wait for the reply.
- `transport`: SMTP submission; the reply from IMAP or the local reply mailbox.
- `replies`: reading a reply, and what `send --wait` exits with for it (pure).
"""
