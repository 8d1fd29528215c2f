"""Container entrypoint: install configs from the state volume, then become supervisord."""

from __future__ import annotations

import os
import sys

from mailsh_server import install_config


def main() -> None:
    if install_config.main([]) != 0:
        sys.exit(1)
    sys.stdout.flush()
    supervisord = ["supervisord", "-n", "-c", "/etc/supervisor/supervisord.conf"]
    os.execvp(supervisord[0], supervisord)  # noqa: S606 - become PID 1


if __name__ == "__main__":
    main()
