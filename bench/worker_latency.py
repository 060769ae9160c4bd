"""How soon the idle worker picks up work a person waits for (a test push, a slip, an unsubscribe).

usage: .venv/bin/python bench/worker_latency.py [--jobs N] [--idle SECONDS] [--json]

Starts `stampbox worker` on a fresh data folder, lets it go idle (Huey's polling backs off while
the queue is empty), then enqueues a job from another process and times until the job has run
(the worker's heartbeat file changes). Goal: under 1 s even after a long idle spell.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--idle", type=float, default=12.0, help="longest idle gap, seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="stampbox-worker-")) / "var"
    os.environ["STAMPBOX_DATA_DIR"] = str(data)
    sys.path.insert(0, str(ROOT))
    subprocess.run(
        [sys.executable, "-m", "appliance.cli", "init"], cwd=ROOT, check=True, capture_output=True
    )
    from appliance import jobs
    from appliance.health import heartbeat_path
    from appliance.settings import load_settings

    beat = heartbeat_path(load_settings(), "worker")
    worker = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "worker"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    rng = random.Random(7)
    waits = []
    try:
        time.sleep(3)
        for _ in range(args.jobs):
            time.sleep(rng.uniform(args.idle / 3, args.idle))  # idle: polling backs off
            before = beat.stat().st_mtime_ns if beat.exists() else 0
            start = time.monotonic()
            jobs.heartbeat()  # enqueue it as a one-off job
            while not beat.exists() or beat.stat().st_mtime_ns == before:
                if time.monotonic() - start > 30:
                    raise SystemExit("the worker did not pick the job up within 30 s")
                time.sleep(0.002)
            waits.append(time.monotonic() - start)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    waits.sort()
    result = {
        "jobs": len(waits),
        "p50_s": round(statistics.median(waits), 3),
        "p99_s": round(waits[min(len(waits) - 1, int(len(waits) * 0.99))], 3),
        "max_s": round(waits[-1], 3),
        "goal_s": 1.0,
        "goal_met": waits[-1] < 1.0,
    }
    print(
        json.dumps(result)
        if args.json
        else f"pickup after idle: p50 {result['p50_s']} s, max {result['max_s']} s (goal < 1 s)"
    )


if __name__ == "__main__":
    main()
