"""Run as a request's command inside the container: try every privileged thing.

Prints one line per attempt: `reached NAME`, `blocked NAME (why)` or `absent NAME`.
`tests/integration/test_attacks_container.py` sends it as a signed command
and asserts that nothing is reached. Standard library only (the image's python3).
"""

import glob
import os
import socket
import subprocess

RESULTS = []


def attempt(name, action):
    try:
        action()
    except FileNotFoundError:
        RESULTS.append(f"absent {name}")
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        RESULTS.append(f"blocked {name} ({type(e).__name__})")
    else:
        RESULTS.append(f"reached {name}")


def read(path):
    def action():
        with open(path, "rb") as f:
            f.read(1)

    return action


def read_any(pattern):
    def action():
        paths = glob.glob(pattern)
        if not paths:
            parent = os.path.dirname(pattern)
            os.listdir(parent)  # the directory itself may be what is refused
            raise FileNotFoundError(pattern)
        for path in paths:
            read(path)()

    return action


def listdir(path):
    return lambda: os.listdir(path)


def write(path):
    def action():
        with open(path, "ab") as f:
            f.write(b"")

    return action


def unix(path, kind=socket.SOCK_STREAM):
    def action():
        with socket.socket(socket.AF_UNIX, kind) as s:
            s.settimeout(2)
            if kind == socket.SOCK_DGRAM:
                s.sendto(b"<22>mailsh-request[1]: accepted reason=forged", path)
            else:
                s.connect(path)

    return action


def tcp(host, port):
    def action():
        with socket.create_connection((host, port), timeout=2):
            pass

    return action


def run(*argv):
    return lambda: subprocess.run(argv, check=True, capture_output=True, timeout=10)


def pids_of(user):
    import pwd

    uid = pwd.getpwnam(user).pw_uid
    pids = [p for p in os.listdir("/proc") if p.isdigit() and os.stat(f"/proc/{p}").st_uid == uid]
    if not pids:
        raise FileNotFoundError(user)
    return [int(p) for p in pids]


def signal_pids(user):
    return lambda: [os.kill(pid, 0) for pid in pids_of(user)]


def environ_of(user):
    return lambda: [read(f"/proc/{pid}/environ")() for pid in pids_of(user)]


def setuid_program():
    """Reached when any setuid program is there to try (su, mount, passwd...)."""
    for directory in ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/libexec"):
        for root, _, files in os.walk(directory):
            for name in files:
                path = os.path.join(root, name)
                if not os.path.islink(path) and os.stat(path).st_mode & 0o4000:
                    return
    raise PermissionError("no setuid program")


def raise_limit():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


attempt("caddy-admin-tcp", tcp("127.0.0.1", 2019))
attempt("caddy-admin-socket", unix("/run/caddy-admin/admin.sock"))
attempt("tls-private-key", read("/etc/mailsh/tls/privkey.pem"))
attempt("tls-private-key-in-state", read("/var/lib/mailsh/tls/privkey.pem"))
attempt("dkim-keys", read_any("/etc/opendkim/keys/*"))
attempt("dkim-keys-in-state", read_any("/var/lib/mailsh/dkim/*.private"))
attempt("acme-account-key", read("/var/lib/mailsh/acme/account-key.pem"))
attempt("secrets", read_any("/var/lib/mailsh/secrets/*"))
attempt("relay-password-map", read("/etc/postfix/relay_password"))
attempt("server-key", read("/var/lib/mailsh/server-key/secret.asc"))
attempt("handler-home", listdir("/var/lib/mailsh/server"))
attempt("journal", read("/var/lib/mailsh/server/journal.sqlite3"))
attempt("server-keyring", listdir("/var/lib/mailsh/server/gnupg"))
attempt("supervisor-socket", unix("/run/supervisor.sock"))
attempt("lmtp-socket", unix("/run/mailsh/handler/lmtp"))
attempt("opendkim-socket", unix("/var/spool/postfix/opendkim/opendkim.sock"))
attempt("syslog-socket", unix("/dev/log", socket.SOCK_DGRAM))
attempt("queue-active", listdir("/var/spool/postfix/active"))
attempt("queue-deferred", listdir("/var/spool/postfix/deferred"))
attempt("queue-incoming", listdir("/var/spool/postfix/incoming"))
attempt("queue-maildrop-write", write("/var/spool/postfix/maildrop/x"))
attempt("queue-listing", run("/usr/sbin/postqueue", "-p"))
attempt("queue-flush", run("/usr/sbin/postqueue", "-f"))
attempt("admin-mailbox", read("/var/mail/mailadmin"))
attempt("reply-mailbox", read("/var/mail/mailsh-replies"))
attempt("runner-socket", unix("/run/mailsh/runner/runner.sock"))
attempt("sudo", run("sudo", "-n", "true"))
attempt("server-code-write", write("/opt/mailsh/mailsh_server/handler.py"))
attempt("runner-code-write", write("/opt/mailsh/mailsh_server/runner.py"))
attempt("sandbox-write", write("/opt/mailsh/mailsh_server/sandbox.py"))
attempt("server-settings-write", write("/etc/mailsh/server.json"))
attempt("rendered-config-write", write("/var/lib/mailsh/rendered/mailsh/server.json"))
attempt("trusted-keys-write", write("/var/lib/mailsh/trusted/new.asc"))
attempt("signal-handler", signal_pids("mailsh-server"))
attempt("signal-postfix", signal_pids("postfix"))
attempt("handler-environment", environ_of("mailsh-server"))
attempt("pid1-environment", read("/proc/1/environ"))
attempt("docker-socket", unix("/var/run/docker.sock"))
attempt("raise-memory-limit", raise_limit)
attempt("setuid-program", setuid_program)
print("\n".join(RESULTS))
