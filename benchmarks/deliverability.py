"""`invoke check-deliverability` timing (target: <= 3 s in the lab, without --send).

Run from the repository root with a Docker engine and the base image present:
    python3 benchmarks/deliverability.py [--runs N]
It starts its own lab (BIND, Pebble, the receiver, a server provisioned with a Pebble
certificate and RFC 2136 DNS, as tests/lab/mail_lab.py does), times the whole suite
through the library and through the `invoke` command (and one `--send` round trip), and
removes the lab after.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provision.config import parse_settings
from provision.deliverability.catalog import check_deliverability
from provision.deliverability.result import Status
from provision.deliverability.target import target_from_settings
from provision.engine import docker_client
from tests.lab.bind import wait_for_bind
from tests.lab.compose import running_lab
from tests.lab.docker_lab import ensure_base_image
from tests.lab.mail_lab import lab_mail_server
from tests.lab.pebble import wait_for_pebble
from tests.lab.receiver import wait_for_receiver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    client = docker_client(parse_settings({}, "benchmark", Path.cwd()))
    ensure_base_image(client)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="mailsh-bench-") as tmp,
        running_lab(client, Path(tmp)) as lab,
    ):
        work = Path(tmp)
        (work / "server").mkdir()
        bind = wait_for_bind(lab)
        pebble = wait_for_pebble(lab, work)
        receiver = wait_for_receiver(lab, work)
        with lab_mail_server(client, lab, bind, pebble, receiver, work / "server") as lab_server:
            print(f"lab up in {time.perf_counter() - started:.1f} s", flush=True)
            settings = lab_server.server.settings
            suite: list[float] = []
            slowest: dict[str, float] = {}
            for _ in range(runs):
                report = check_deliverability(target_from_settings(settings))
                bad = [r for r in report.results if r.status not in (Status.PASS, Status.SKIP)]
                if bad:
                    raise SystemExit(f"not a clean lab: {bad}")
                suite.append(report.elapsed_s)
                for r in report.results:
                    slowest[r.name] = max(slowest.get(r.name, 0.0), r.duration_ms)
            command: list[float] = []
            for _ in range(3):
                start = time.perf_counter()
                run = lab_server.check()
                command.append(time.perf_counter() - start)
                if run.returncode != 0:
                    raise SystemExit(f"invoke check-deliverability failed:\n{run.stdout}")
            start = time.perf_counter()
            run = lab_server.check("--send", "--only", "end-to-end")
            send_s = time.perf_counter() - start
            if run.returncode != 0:
                raise SystemExit(f"--send failed:\n{run.stdout}")
    checks = len(report.results)
    print(
        f"suite ({checks} checks, library), {runs} runs: "
        f"median {statistics.median(suite):.3f} s, max {max(suite):.3f} s"
    )
    print(
        f"`invoke check-deliverability` wall time, 3 runs: "
        f"median {statistics.median(command):.2f} s, max {max(command):.2f} s"
    )
    print(f"`invoke check-deliverability --send --only end-to-end`: {send_s:.2f} s")
    top = sorted(slowest.items(), key=lambda kv: -kv[1])[:3]
    print("slowest checks (max): " + ", ".join(f"{n} {ms:.0f} ms" for n, ms in top))


if __name__ == "__main__":
    main()
