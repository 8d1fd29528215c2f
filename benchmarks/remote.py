"""Remote-engine figures (issue 15): `invoke provision` from an operator container over
ssh:// (first and no-op), `invoke backup` and `invoke restore` (times, archive size).

Run from the repository root with a Docker engine and the base image present:
    python3 benchmarks/remote.py
It starts the remote-engine lab of the tests (an sshd "VPS" in front of this engine and
an operator container), uses its own names and ports, and removes everything after.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tomllib
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.remote import remote_config, write_remote_config
from tests.fixtures.server import remove_server
from tests.lab.compose import running_lab
from tests.lab.docker_lab import free_port, lab_name
from tests.lab.remote import RemoteLab, remote_lab

ARCHIVE = "/root/bench.mailsh-backup"


def timed(remote: RemoteLab, label: str, config: str, *args: str) -> float:
    start = time.perf_counter()
    run = remote.invoke(config, *args)
    elapsed = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"{label} failed: {run.stderr}")
    print(f"{label:<44} {elapsed:6.2f} s", flush=True)
    return elapsed


def main() -> None:
    client = docker.from_env(timeout=300)
    names: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="mailsh-bench-") as tmpdir,
        running_lab(client, Path(tmpdir)) as lab,
        remote_lab(client, lab) as remote,
    ):
        try:
            config = remote_config(remote, "bench-a", image={"base": "mailsh/base:bookworm"})
            names.append(config["container_name"])
            a = write_remote_config(remote, config, "/root/bench-a/mailsh.toml")
            cold = ("provision", "--no-cache")
            timed(remote, "provision over ssh:// (cold: image built, no cache)", a, *cold)
            remove_server(client, config["container_name"])
            timed(remote, "provision over ssh:// (image there, new container)", a, "provision")
            timed(remote, "provision over ssh:// (no-op)", a, "provision")
            timed(remote, "backup", a, "backup", "--output", ARCHIVE)
            size = len(remote.read(ARCHIVE))
            print(f"{'archive size':<44} {size / 2**20:6.2f} MiB")
            moved = tomllib.loads(remote.read(a).decode())
            moved |= {"container_name": lab_name("bench-b"), "state_dir": "/root/bench-b/state"}
            moved["ports"] = {**moved["ports"], "smtp": free_port(), "https": free_port()}
            names.append(moved["container_name"])
            b = write_remote_config(remote, moved, "/root/bench-b/mailsh.toml")
            timed(remote, "restore under another name", b, "restore", ARCHIVE)
        finally:
            for name in names:
                remove_server(client, name)


if __name__ == "__main__":
    main()
