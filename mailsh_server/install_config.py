"""Install rendered configs, keys and certificates from the state volume.

Runs at container start (before supervisord) and on `invoke provision` when
only the configuration changed (`--reload`), which then reloads postfix,
opendkim and caddy in place.
"""

from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

from mailsh_server.paths import (
    APPLIED_HASH,
    DKIM_DIR,
    OPERATOR_MANIFEST,
    RENDERED,
    RUN_DIR,
    SERVER_DIR,
    SERVER_SETTINGS,
    STATE,
    TLS_DIR,
)
from mailsh_server.protocol import (
    CADDY_ADMIN_SOCKET,
    CONFIG_HASH_FILE,
    HANDLER_USER,
    OPERATOR_DIRS,
    RUNNER_SOCKET,
)
from mailsh_server.supervisor_status import supervisor_env
from mailsh_server.trusted_keys import build_keyring

TARGETS = {
    "postfix": Path("/etc/postfix"),
    "opendkim": Path("/etc/opendkim"),
    "caddy": Path("/etc/caddy"),
    "supervisor": Path("/etc/supervisor"),
    "mailsh": Path("/etc/mailsh"),
}


def _chown(path: Path, user: str, group: str | None = None) -> None:
    uid = pwd.getpwnam(user).pw_uid
    gid = grp.getgrnam(group or user).gr_gid
    os.chown(path, uid, gid)


def _copy(src: Path, dst: Path, mode: int, user: str = "root", group: str = "root") -> bool:
    """Install `src` at `dst` atomically; whether the content changed."""
    data = src.read_bytes()
    changed = not dst.exists() or dst.read_bytes() != data
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.new")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    _chown(tmp, user, group)
    os.replace(tmp, dst)
    return changed


def prune_operator_files() -> None:
    """Remove what the operator no longer ships (a trusted key, a relay secret, a config):
    files in its directories missing from its manifest. Temporary files (dot names) of a
    writer in progress are left alone."""
    if not OPERATOR_MANIFEST.exists():
        return
    listed = set(OPERATOR_MANIFEST.read_text().splitlines())
    for top in OPERATOR_DIRS:
        for path in sorted((STATE / top).rglob("*")):
            name = path.relative_to(STATE).as_posix()
            if path.is_file() and not path.name.startswith(".") and name not in listed:
                path.unlink()


def install_files() -> set[str]:
    """Install everything; returns what changed ("postfix", "tls", "dkim", ...)."""
    changed: set[str] = set()
    prune_operator_files()
    for section, target in TARGETS.items():
        source = RENDERED / section
        if not source.is_dir():
            continue
        for src in sorted(p for p in source.rglob("*") if p.is_file()):
            if _copy(src, target / src.relative_to(source), 0o644):
                changed.add(section)

    DKIM_DIR.mkdir(parents=True, exist_ok=True)
    _chown(DKIM_DIR, "opendkim")
    os.chmod(DKIM_DIR, 0o700)
    for dkim_key in sorted((STATE / "dkim").glob("*.private")):
        if _copy(dkim_key, DKIM_DIR / dkim_key.name, 0o600, "opendkim", "opendkim"):
            changed.add("dkim")

    chain = _copy(STATE / "tls" / "fullchain.pem", TLS_DIR / "fullchain.pem", 0o644)
    key = _copy(STATE / "tls" / "privkey.pem", TLS_DIR / "privkey.pem", 0o640, "root", "caddy")
    if chain or key:
        changed.add("tls")

    os.chmod(STATE, 0o711)  # noqa: S103 - traverse only: the handler reaches server/
    relay_secret = STATE / "secrets" / "relay_password"
    relay_map = Path("/etc/postfix/relay_password")
    if relay_secret.exists():
        if _copy(relay_secret, relay_map, 0o600):
            changed.add("postfix")
    elif relay_map.exists():
        relay_map.unlink()
        changed.add("postfix")

    for d, owner, group, mode in (
        (Path("/var/spool/postfix/opendkim"), "opendkim", "opendkim", 0o750),
        (Path("/run/opendkim"), "opendkim", "opendkim", 0o755),
        (Path("/var/lib/caddy"), "caddy", "caddy", 0o700),
        (Path(CADDY_ADMIN_SOCKET).parent, "caddy", "caddy", 0o700),
        (SERVER_DIR, HANDLER_USER, HANDLER_USER, 0o700),
        # postfix's lmtp client reaches the handler: it is in group mailsh-server
        (RUN_DIR / "handler", HANDLER_USER, HANDLER_USER, 0o750),
        # the runner: its group (and SO_PEERCRED) lets only the handler ask
        (Path(RUNNER_SOCKET).parent, "root", HANDLER_USER, 0o750),
    ):
        d.mkdir(parents=True, exist_ok=True)
        _chown(d, owner, group)
        os.chmod(d, mode)

    install_request_handler()
    if "postfix" in changed:
        subprocess.run(["postalias", "/etc/postfix/aliases"], check=True)
        Path("/etc/mailname").write_text(_postconf("myhostname") + "\n")

    RUN_DIR.mkdir(parents=True, exist_ok=True)
    hash_file = RENDERED / CONFIG_HASH_FILE
    APPLIED_HASH.write_text(hash_file.read_text() if hash_file.exists() else "")
    return changed


def install_request_handler() -> None:
    """run_as users exist, and the handler's keyring holds exactly the trusted keys."""
    server = json.loads(SERVER_SETTINGS.read_text())
    for user in server.get("run_as_users", []):
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--create-home", "--shell", "/bin/bash", user], check=True
            )
    fingerprints = [str(k["fingerprint"]) for k in server.get("keys", [])]
    build_keyring(STATE / "trusted", fingerprints, SERVER_DIR, STATE / "server-key" / "secret.asc")


def _postconf(name: str) -> str:
    out = subprocess.run(["postconf", "-h", name], capture_output=True, text=True, check=True)
    return out.stdout.strip()


CADDY_RELOAD = [
    "caddy",
    "reload",
    "--address",
    f"unix/{CADDY_ADMIN_SOCKET}",
    "--force",  # the Caddyfile may be unchanged while the certificate changed
    "--config",
    "/etc/caddy/Caddyfile",
    "--adapter",
    "caddyfile",
]


def reload_commands(changed: set[str]) -> list[list[str]]:
    """The reloads that apply `changed` to running services, and no others (pure)."""
    commands = []
    if "supervisor" in changed:
        commands += [["supervisorctl", "reread"], ["supervisorctl", "update"]]
    if changed & {"postfix", "tls"}:
        commands.append(["postfix", "reload"])
    if changed & {"opendkim", "dkim"}:
        # opendkim re-reads its configuration, keys and tables on SIGUSR1.
        commands.append(["supervisorctl", "signal", "USR1", "opendkim"])
    if changed & {"caddy", "tls"}:
        commands.append(CADDY_RELOAD)
    return commands


def reload_services(changed: set[str]) -> None:
    """Apply installed files to running services without restarting the container."""
    for command in reload_commands(changed):
        subprocess.run(command, check=True, capture_output=True, env=supervisor_env())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reload", action="store_true", help="reload running services")
    args = parser.parse_args(argv)
    try:
        changed = install_files()
        if args.reload:
            reload_services(changed)
    except subprocess.CalledProcessError as e:
        # postfix-script says why on stdout ("the Postfix mail system is not running").
        said = [out for out in (e.stderr, e.stdout) if out]
        detail = b" ".join(said).decode(errors="replace").strip()
        print(f"install_config: {' '.join(e.cmd)} failed: {detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
