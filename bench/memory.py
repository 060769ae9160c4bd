"""Memory of the three box processes (web, worker, bridge): PSS at rest and under a tap stream.

usage: .venv/bin/python bench/memory.py [--members N] [--taps N] [--json]

Starts `stampbox run` on a fresh data folder (what systemd's three units run, minus the
supervisor, which the box does not have), waits until the web answers, sums the proportional
set size (PSS, /proc/PID/smaps_rollup) of every process below the supervisor, then feeds taps
through the simulated reader and the POS API and measures again. Goal: all three within 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MB = 150


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in map(int, kids):
            out += [kid, *_children(kid)]
    return out


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
    except OSError:
        return "?"


def measure(pid: int) -> dict:
    procs = {kid: (_cmdline(kid), _pss_kb(kid)) for kid in _children(pid)}
    return {
        "total_mb": round(sum(kb for _, kb in procs.values()) / 1024, 1),
        "processes": [
            {"pid": p, "cmd": c, "pss_mb": round(kb / 1024, 1)}
            for p, (c, kb) in sorted(procs.items())
        ],
    }


def _stampbox(env, *args) -> str:
    return subprocess.run(
        [sys.executable, "-m", "appliance.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--taps", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="stampbox-mem-"))
    env = {
        **os.environ,
        "STAMPBOX_DATA_DIR": str(work / "var"),
        "STAMPBOX_TIMEZONE": "UTC",
        "STAMPBOX_STAMP_COOLDOWN_MINUTES": "0",
    }
    _stampbox(env, "init")
    members = work / "members.csv"
    rows = ["external_id,name,email,phone,birthday,joined_at,locale,email_consent,sms_consent"]
    rows += [f"m{i},Member {i},,,,,,," for i in range(args.members)]
    members.write_text("\n".join(rows) + "\n")
    visits = work / "visits.csv"
    visits.write_text("member_external_id,at,amount,stamps\n")
    _stampbox(env, "import", str(members), str(visits))
    token = json.loads(_stampbox(env, "device-token", "create", "bench", "--json"))["token"]

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "run", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/login", timeout=2).read()
                break
            except OSError:
                time.sleep(0.3)
        time.sleep(3)  # let imports and the first periodic run settle
        rest = measure(run.pid)

        card_codes = _card_codes(work / "var" / "stampbox.db")
        fifo = work / "var" / "sim-reader.fifo"
        stop = threading.Event()

        def feed_reader():
            with open(fifo, "w") as pipe:
                i = 0
                while not stop.is_set() and i < args.taps:
                    pipe.write(card_codes[i % len(card_codes)] + "\n")
                    pipe.flush()
                    i += 1
                    time.sleep(0.002)

        reader = threading.Thread(target=feed_reader, daemon=True)
        reader.start()
        peak = rest
        for i in range(args.taps // 2):
            body = json.dumps({"token": card_codes[(i * 7) % len(card_codes)]}).encode()
            req = urllib.request.Request(
                f"{base}/api/v1/counter/tap",
                data=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            urllib.request.urlopen(req, timeout=10).read()
            if i % 250 == 0:
                now = measure(run.pid)
                peak = max(peak, now, key=lambda m: m["total_mb"])
        stop.set()
        reader.join(timeout=30)
        loaded = measure(run.pid)
        peak = max(peak, loaded, key=lambda m: m["total_mb"])
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=60)

    result = {
        "at_rest_mb": rest["total_mb"],
        "under_taps_mb": loaded["total_mb"],
        "peak_mb": peak["total_mb"],
        "goal_mb": GOAL_MB,
        "goal_met": peak["total_mb"] <= GOAL_MB,
        "processes_at_peak": peak["processes"],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"at rest {rest['total_mb']} MB, under taps {loaded['total_mb']} MB, "
            f"peak {peak['total_mb']} MB (goal {GOAL_MB} MB)"
        )
        for p in peak["processes"]:
            print(f"  {p['pss_mb']:6.1f} MB  {p['cmd']}")


def _card_codes(db_path: Path) -> list[str]:
    import sqlite3

    con = sqlite3.connect(db_path)
    try:
        return [row[0] for row in con.execute("SELECT code FROM card ORDER BY id")]
    finally:
        con.close()


if __name__ == "__main__":
    main()
