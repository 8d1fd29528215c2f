"""Shell-by-mail round trip: latency and a burst, against a real container.

    python3 benchmarks/roundtrip.py [--sequential 200] [--burst 500] [--baseline REF]

Provisions its own server (local base image, free ports, temporary state),
trusts a fresh ed25519 key, then measures from "SMTP accepted" (the DATA
reply) to "reply delivered" (the reply appearing in the local-mode reply
mailbox, timestamped inside the container by `mailbox_watch.py`; container
and host share one clock). Prints the figures.

Requests go to the container's own address on the Docker network, port 25, as
mail from outside arrives (the kernel's NAT), not through the userland proxy
docker puts behind a published port on 127.0.0.1, which would spend about 8 ms
of this machine's CPU per request on copying bytes. They are signed and
flattened before the clock starts.

With `--baseline REF` (a git ref, e.g. `main` or a commit), this same script first
measures the server of that checkout, built as its own image, then this
checkout's, and prints both sets of figures side by side.
"""

from __future__ import annotations

import argparse
import os
import re
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The checkout whose server is measured: this one, or a --baseline worktree.
ROOT = Path(os.environ.get("MAILSH_BENCH_TREE", HERE.parent))
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402
import tomli_w  # noqa: E402
from checkout import baseline_checkout  # noqa: E402  (benchmarks/, this script's directory)

try:
    from provision.client import keys
    from provision.client.request_mail import address_message
    from provision.client.send import signed_request
except ImportError:  # a checkout from before provision/client/ was a package
    from provision.request_mail import address_message

    from provision import client as keys

    signed_request = keys.signed_request
from provision.config import Settings, load_settings  # noqa: E402
from provision.container import find_container, remove_volumes  # noqa: E402
from provision.deploy import provision  # noqa: E402
from provision.image import LOCAL_BASE  # noqa: E402
from tests.lab.docker_lab import free_port, lab_name  # noqa: E402


class ReplyWatch:
    """Follows the reply mailbox; records when each In-Reply-To arrived (and how often)."""

    def __init__(self, container: docker.models.containers.Container) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.cond = threading.Condition()
        api = container.client.api
        watcher = (HERE / "mailbox_watch.py").read_text()
        exec_id = api.exec_create(container.id, ["python3", "-u", "-c", watcher])
        self._stream = api.exec_start(exec_id, stream=True)
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.5)

    def _read(self) -> None:
        buf = b""
        for chunk in self._stream:
            buf += chunk
            *lines, buf = buf.split(b"\n")
            with self.cond:
                for line in lines:
                    when, _, msg_id = line.decode().partition(" ")
                    self.arrivals.setdefault(msg_id.strip(), []).append(float(when))
                self.cond.notify_all()

    def wait(self, msg_id: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while msg_id not in self.arrivals:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.arrivals[msg_id][0]


def setup(directory: Path) -> tuple[Settings, docker.DockerClient, object, str, str]:
    config_path = directory / "mailsh.toml"
    config = {
        "container_name": lab_name("mailsh-bench"),
        "state_dir": str(directory / "state"),
        "image": {"base": LOCAL_BASE},
        "ports": {"bind": "127.0.0.1", "smtp": free_port(), "https": free_port()},
    }
    config_path.write_text(tomli_w.dumps(config))
    home = directory / "gnupg"
    home.mkdir(mode=0o700)
    gpg = keys.user_gpg(str(home))
    fpr = keys.keygen(gpg, "Bench", "bench@client.example")
    public = keys.export_public(gpg, fpr, directory / "bench.asc")
    settings = load_settings(config_path, environ={})
    keys.trust(settings, config_path, public, gpg)
    settings = load_settings(config_path, environ={})
    docker_client = docker.from_env(timeout=300)
    try:
        provision(settings, docker_client, lambda m: print(f"  {m}", file=sys.stderr))
    except BaseException:
        container = find_container(docker_client, settings.container_name)
        if container is not None:
            container.remove(force=True)
        remove_volumes(docker_client, settings.container_name)
        raise
    return settings, docker_client, gpg, fpr, "bench@client.example"


Request = tuple[bytes, str]  # the flattened mail and its Message-ID


def make_requests(
    settings: Settings, gpg: object, fpr: str, sender: str, commands: list[str]
) -> list[Request]:
    out = []
    for command in commands:
        msg = signed_request(
            gpg,
            "pgp-mime",
            command,
            fpr,
            settings.request_recipient,  # type: ignore[arg-type]
        )
        addressed, msg_id = address_message(msg, sender, settings.request_recipient, "bench")
        out.append((addressed.as_bytes(), msg_id))
    return out


def server_address(server: docker.models.containers.Container) -> str:
    """The container's address on its Docker network."""
    server.reload()
    networks = server.attrs["NetworkSettings"]["Networks"]
    return str(next(n["IPAddress"] for n in networks.values() if n.get("IPAddress")))


def send(settings: Settings, address: str, data: bytes, sender: str) -> float:
    """Submit one request; the moment the server accepted it (after DATA)."""
    with smtplib.SMTP(address, 25, timeout=60) as smtp:
        smtp.sendmail(sender, [settings.request_recipient], data)
        return time.time()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def sequential(
    settings: Settings, address: str, watch: ReplyWatch, requests: list[Request], sender: str
) -> None:
    latencies = []
    lost = 0
    for data, msg_id in requests:
        accepted = send(settings, address, data, sender)
        delivered = watch.wait(msg_id, 30)
        if delivered is None:
            lost += 1
            continue
        latencies.append((delivered - accepted) * 1000)
    print(f"sequential: {len(requests)} requests, {lost} without reply")
    print(
        f"  latency SMTP accepted -> reply delivered: p50 {percentile(latencies, 50):.0f} ms, "
        f"p99 {percentile(latencies, 99):.0f} ms, mean {statistics.mean(latencies):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )


def burst(
    settings: Settings,
    server: docker.models.containers.Container,
    address: str,
    watch: ReplyWatch,
    requests: list[Request],
    sender: str,
    timeout: float,
) -> None:
    started = time.time()
    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(lambda r: send(settings, address, r[0], sender), requests))
    accepted = time.time()
    deadline = time.monotonic() + timeout
    last = 0.0
    for _, msg_id in requests:
        when = watch.wait(msg_id, max(0.0, deadline - time.monotonic()))
        last = max(last, when or 0.0)
    time.sleep(2)  # let any duplicate arrive
    ids = {msg_id for _, msg_id in requests}
    received = [i for i in ids if i in watch.arrivals]
    duplicated = sum(1 for i in received if len(watch.arrivals[i]) > 1)
    _, runs = server.exec_run(["cat", "/tmp/mailsh-burst"], user="root")  # noqa: S108
    ran = Counter(runs.decode().split())
    ran_twice = sum(1 for c in ran.values() if c > 1)
    elapsed = last - started
    print(
        f"burst: {len(requests)} requests sent concurrently (all accepted in "
        f"{accepted - started:.1f} s)"
    )
    print(
        f"  replies received {len(received)}, lost {len(ids) - len(received)}, "
        f"duplicated {duplicated}, commands run twice {ran_twice}"
    )
    print(f"  {len(received) / elapsed:.1f} requests/s ({elapsed:.1f} s to the last reply)")


DELAYS = re.compile(
    r"relay=(\S*/handler/lmtp\]|local), .*?delays=([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+)"
)


def postfix_delays(server: docker.models.containers.Container, since: float) -> None:
    """Where the time went, from postfix's own log: queue, queue manager, delivery."""
    logs = server.logs(since=int(since)).decode(errors="replace")
    for local, name in ((False, "request -> handler"), (True, "reply -> mailbox")):
        rows = [
            [float(x) for x in m.groups()[1:]]
            for m in DELAYS.finditer(logs)
            if (m[1] == "local") == local
        ]
        if rows:
            mean = [statistics.mean(col) * 1000 for col in zip(*rows, strict=True)]
            print(
                f"  {name}: mean ms before queue manager {mean[0]:.0f}, "
                f"in queue manager {mean[1]:.0f}, connecting {mean[2]:.0f}, "
                f"delivering {mean[3]:.0f} ({len(rows)} deliveries)"
            )


FIGURES = {
    "p50 ms": re.compile(r"reply delivered: p50 (\d+) ms"),
    "p99 ms": re.compile(r"p99 (\d+) ms"),
    "burst lost": re.compile(r"replies received \d+, lost (\d+)"),
    "burst duplicated": re.compile(r"duplicated (\d+)"),
    "burst run twice": re.compile(r"commands run twice (\d+)"),
    "burst requests/s": re.compile(r"([\d.]+) requests/s"),
}


def figures(output: str) -> dict[str, str]:
    return {name: (m.group(1) if (m := rx.search(output)) else "?") for name, rx in FIGURES.items()}


def run_baseline(ref: str, argv: list[str]) -> str:
    """This benchmark of the server at `ref` (a temporary worktree); its printed output."""
    with baseline_checkout(ref) as tree:
        return subprocess.run(
            [sys.executable, __file__, *argv],
            cwd=tree,
            env={**os.environ, "MAILSH_BENCH_TREE": str(tree)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--baseline", metavar="REF", help="also measure this git ref, first")
    args = parser.parse_args()
    if args.baseline:
        argv = ["--sequential", str(args.sequential), "--burst", str(args.burst)]
        print(f"== baseline {args.baseline}", flush=True)
        before = run_baseline(args.baseline, argv)
        print(before, flush=True)
        print("== this checkout", flush=True)
        after = subprocess.run(
            [sys.executable, __file__, *argv], capture_output=True, text=True, check=True
        ).stdout
        print(after)
        old, new = figures(before), figures(after)
        print(f"{'':18} {args.baseline[:12]:>12} {'this':>12}")
        for name in FIGURES:
            print(f"{name:18} {old[name]:>12} {new[name]:>12}")
        return 0
    with tempfile.TemporaryDirectory(prefix="mailsh-bench-") as tmp:
        settings, docker_client, gpg, fpr, sender = setup(Path(tmp))
        server = find_container(docker_client, settings.container_name)
        assert server is not None
        try:
            address = server_address(server)
            print(f"server {settings.container_name}: requests to {address}:25")
            watch = ReplyWatch(server)
            seq = make_requests(
                settings, gpg, fpr, sender, [f"echo {n}\n" for n in range(args.sequential)]
            )
            since = time.time()
            sequential(settings, address, watch, seq, sender)
            postfix_delays(server, since)
            many = make_requests(
                settings,
                gpg,
                fpr,
                sender,
                [f"echo {n} >> /tmp/mailsh-burst\n" for n in range(args.burst)],
            )
            since = time.time()
            burst(settings, server, address, watch, many, sender, args.timeout)
            postfix_delays(server, since)
        finally:
            server.remove(force=True)
            remove_volumes(docker_client, settings.container_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
