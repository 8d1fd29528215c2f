"""Container entrypoint: install configs from the state volume, then become supervisord."""

from __future__ import annotations

import grp
import os
import pwd
import sys
from pathlib import Path

from mailsh_server import install_config
from mailsh_server.supervisor_status import supervisor_env

QUEUE = Path("/var/spool/postfix")
MAILBOXES = Path("/var/mail")


def adopt_volumes() -> None:
    """Give the queue and mailbox volumes to this image's users.

    The image pins their ids, but a volume made by an older image may carry
    others: whatever the old postfix user and postdrop group owned becomes theirs.
    """
    postfix, postdrop = pwd.getpwnam("postfix").pw_uid, grp.getgrnam("postdrop").gr_gid
    old_uid, old_gid = (QUEUE / "active").stat().st_uid, (QUEUE / "maildrop").stat().st_gid
    if (old_uid, old_gid) != (postfix, postdrop):
        for path in [QUEUE, *QUEUE.rglob("*")]:
            st = path.lstat()
            uid = postfix if st.st_uid == old_uid else -1
            gid = postdrop if st.st_gid == old_gid else -1
            if (uid, gid) != (-1, -1):
                os.lchown(path, uid, gid)
    for mailbox in MAILBOXES.iterdir():
        try:
            owner = pwd.getpwnam(mailbox.name)
        except KeyError:
            continue
        if mailbox.stat().st_uid != owner.pw_uid:
            os.chown(mailbox, owner.pw_uid, grp.getgrnam("mail").gr_gid)


def main() -> None:
    if install_config.main([]) != 0:
        sys.exit(1)
    adopt_volumes()
    sys.stdout.flush()
    supervisord = ["supervisord", "-n", "-c", "/etc/supervisor/supervisord.conf"]
    os.execvpe(supervisord[0], supervisord, supervisor_env())  # noqa: S606 - become PID 1


if __name__ == "__main__":
    main()
