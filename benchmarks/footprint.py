"""What the server costs at rest: image size and the container's idle memory.

    python3 benchmarks/footprint.py [--baseline REF] [--idle 30]

Provisions the embedded default (local base image, free ports, temporary state) from
this checkout, waits `--idle` seconds without traffic, reads the container's memory
(cgroup usage without page cache, as `docker stats` shows it) and its image's size,
then removes everything. With `--baseline REF` (a git ref), the same is done first
for that ref's checkout, on its own image, and both are printed side by side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from checkout import baseline_checkout  # benchmarks/, this script's directory

ROOT = Path(__file__).resolve().parent.parent

# Run with the checkout under test first on sys.path: provision it and print its figures.
PROBE = r"""
import json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import docker
from provision.config import parse_settings
from provision.container import find_container, remove_volumes
from provision.deploy import provision
from provision.image import LOCAL_BASE
from tests.lab.docker_lab import free_port

client = docker.from_env(timeout=300)
with tempfile.TemporaryDirectory(prefix="mailsh-footprint-") as tmp:
    data = {
        "container_name": "mailsh-footprint",
        "state_dir": str(Path(tmp) / "state"),
        "image": {"base": LOCAL_BASE, "name": "mailsh-footprint"},
        "ports": {"smtp": free_port(), "https": free_port()},
    }
    settings = parse_settings(data, "footprint", Path(tmp))
    provision(settings, client, lambda _m: None)
    container = find_container(client, settings.container_name)
    try:
        time.sleep(float(sys.argv[2]))
        stats = container.stats(stream=False)["memory_stats"]
        cache = stats.get("stats", {}).get("cache", stats.get("stats", {}).get("inactive_file", 0))
        image = client.images.get(container.image.id)
        print(json.dumps({"image_mb": image.attrs["Size"] / 1e6,
                          "idle_mib": (stats["usage"] - cache) / 2**20}))
    finally:
        container.remove(force=True)
        remove_volumes(client, settings.container_name)
"""


def measure(tree: Path, idle_s: float) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tree), str(idle_s)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", metavar="REF", help="also measure this git ref, first")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds at rest before reading")
    args = parser.parse_args()
    rows: dict[str, dict[str, float]] = {}
    if args.baseline:
        with baseline_checkout(args.baseline) as tree:
            rows[args.baseline[:12]] = measure(tree, args.idle)
    rows["this"] = measure(ROOT, args.idle)
    print(f"{'':16}" + "".join(f"{name:>14}" for name in rows))
    print(f"{'image (MB)':16}" + "".join(f"{r['image_mb']:14.1f}" for r in rows.values()))
    print(f"{'idle (MiB)':16}" + "".join(f"{r['idle_mib']:14.1f}" for r in rows.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
