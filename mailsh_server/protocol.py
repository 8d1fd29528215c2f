"""What the host side (`provision`) and the server (`mailsh_server`) must agree on.

Standard library only: `provision` imports this module (one way); the server
never imports `provision`. A string of this contract is written here, once.
"""

from __future__ import annotations

# Reply headers: what happened to the request, and the command's exit status.
RESULT_HEADER = "X-Mailsh-Result"
EXIT_HEADER = "X-Mailsh-Exit-Status"
# How many lines of the reply body, from its start, are stdout; how many lines after
# the STDERR_MARK line are stderr (a stream too long to show whole is an attachment).
STDOUT_LINES_HEADER = "X-Mailsh-Stdout-Lines"
STDERR_LINES_HEADER = "X-Mailsh-Stderr-Lines"
STDERR_MARK = "--- stderr ---"
STDOUT_PART = "stdout.txt"
STDERR_PART = "stderr.txt"
# Every reply ends with this line; a reply to a reply is cut there (and at the quote).
NEXT_COMMAND_MARKER = "## mailsh: write your next command above this line ##"
# A refusal's body starts with this, then the reason.
REFUSED_PREFIX = "mailsh refused this request: "

# Lines the client puts before the command, inside the signed text: the server the
# request is for (`require_binding`), and a random id that makes each request a new
# signature even when the same command is signed twice in one second (ed25519
# signatures are deterministic).
BINDING_HEADER = "Mailsh-To"
REQUEST_ID_HEADER = "Mailsh-Request-Id"
# The Subject outside an encrypted request or reply; the real one is a protected
# header inside (Content-Type parameter protected-headers="v1").
HIDDEN_SUBJECT = "..."

# Beside the rendered configs in the state: the hash of everything the host shipped,
# which the container compares with what it applied.
CONFIG_HASH_FILE = ".config-hash"

# What the host runs inside the container (`docker exec`): python3 -m <module> ARGS.
INSTALL_CONFIG_MODULE = "mailsh_server.install_config"  # --reload: apply shipped configs
HEALTH_MODULE = "mailsh_server.health"  # exit 0 when healthy; --greet, --report
SNAPSHOT_MODULE = "mailsh_server.snapshot"  # a consistent copy of the journal, for backups
REPLY_MAILBOX_MODULE = "mailsh_server.reply_mailbox"  # the Message-ID in IN_REPLY_TO_ENV
IN_REPLY_TO_ENV = "MAILSH_IN_REPLY_TO"

# The state volume inside the container, and the server's own files in it.
STATE_MOUNT = "/var/lib/mailsh"
# The operator's part of the state volume (provision ships it with put_archive), and
# the manifest listing its files: the server prunes what these hold and is not listed.
OPERATOR_DIRS = ("rendered", "tls", "dkim", "trusted", "server-key", "secrets", "acme")
OPERATOR_MANIFEST_FILE = ".operator-files"
JOURNAL_FILE = "server/journal.sqlite3"
JOURNAL_SNAPSHOT_FILE = "backup/journal.sqlite3"


def server_command(module: str, *args: str) -> list[str]:
    """The argv that runs one of the server's entry points in the container."""
    return ["python3", "-m", module, *args]


CADDY_ADMIN_SOCKET = "/run/caddy-admin/admin.sock"
# The root runner that starts a request's command (only the handler may connect).
RUNNER_SOCKET = "/run/mailsh/runner/runner.sock"

# The request handler's account: it owns the journal and the keyring, and only it
# (and root) may ask the runner for a command.
HANDLER_USER = "mailsh-server"

# Users of the image that a request must never run as: root, and the services
# whose files (keys, queue, journal, keyring) a command must not reach.
SERVICE_USERS = frozenset(
    {
        "root",
        "postfix",
        "opendkim",
        "caddy",
        HANDLER_USER,
        "mailsh-replies",
        "mailadmin",
        "nobody",
        "daemon",
        "bin",
        "sys",
        "sync",
        "games",
        "man",
        "lp",
        "mail",
        "news",
        "uucp",
        "proxy",
        "www-data",
        "backup",
        "list",
        "irc",
        "_apt",
    }
)


def run_as_problem(user: str) -> str | None:
    """Why a request may not run as `user`, or None."""
    if user in SERVICE_USERS:
        return f"{user!r} is root or a service account; commands run as an unprivileged user"
    return None
