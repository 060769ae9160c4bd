"""Time counter.handle() taps on a generated shop against the raw-SQLite floor, in one run.

    .venv/bin/python bench/tap.py [--members N] [--visits N] [--taps N] [--seed S] [--json]

Both sides get the same tap plan (card, moment, amount) on their own copy of the cached
shop, and run alternately tap by tap (the order flips every tap), so disk, cache and CPU
noise lands on both. See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import pstats
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from bisect import bisect_left
from pathlib import Path
from random import Random

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    # run as a script: import this checkout's appliance (a worktree's), not the installed one
    sys.path.insert(0, str(ROOT))

from appliance import box as box_mod  # noqa: E402
from appliance.clock import from_micros, to_micros  # noqa: E402
from appliance.counter import handle  # noqa: E402
from appliance.db import SQLITE_PRAGMAS  # noqa: E402
from appliance.settings import load_settings  # noqa: E402
from bench.floor import FloorTap  # noqa: E402
from bench.generate import END, HOUR_US, OUT, ShopSpec, ensure_shop  # noqa: E402

TARGET_RATIO = 3.0
AIM_RATIO = 1.5
CEILING_MS = 10.0


def plan_taps(db_path: Path, count: int, seed: int) -> list[tuple[str, int, int | None]]:
    """(uid, moment in µs, amount) per tap: regulars tap more, some re-tap within cooldown."""
    rng = Random(seed + 7919)
    conn = sqlite3.connect(db_path)
    rows = conn.execute(
        "SELECT c.nfc_uid, m.visit_count FROM card c JOIN member m ON m.id = c.member_id"
        " WHERE c.nfc_uid IS NOT NULL ORDER BY c.id"
    ).fetchall()
    conn.close()
    uids, cum, total = [], [], 0
    for uid, visits in rows:
        total += visits + 1
        uids.append(uid)
        cum.append(total)
    # the morning after the shop's history ends, so every card starts out of its cooldown
    now = to_micros(END) + 8 * HOUR_US
    plan: list[tuple[str, int, int | None]] = []
    for _ in range(count):
        now += rng.randint(1, 40) * 1_000_000
        if plan and rng.random() < 0.08:
            uid = plan[-rng.randint(1, min(20, len(plan)))][0]  # back within minutes
        else:
            uid = uids[bisect_left(cum, rng.random() * total)]
        amount = int(rng.lognormvariate(6.5, 0.6)) // 10 * 10 if rng.random() < 0.5 else None
        plan.append((uid, now, amount))
    return plan


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms)) - 1)]


class Checkpointer:
    """Checkpoints both copies' WAL from its own connections, as another process would.

    `every_taps`: between taps, untimed: the worker's checkpoint at a shop's pace, where
    taps are seconds apart and a checkpoint almost never overlaps one. `every_seconds`: from
    a thread, concurrently with the taps: the worst case, where its I/O competes with them.
    """

    def __init__(self, paths, every_taps: int = 0, every_seconds: float = 0.0):
        self.every_taps, self.every_seconds = every_taps, every_seconds
        self.conns = []
        for path in paths:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            for name, value in SQLITE_PRAGMAS.items():
                conn.execute(f"PRAGMA {name} = {value}")
            self.conns.append(conn)
        self.runs = 0
        self.done = threading.Event()
        self.thread = None
        if every_seconds > 0:
            self.thread = threading.Thread(target=self._loop, name="checkpointer", daemon=True)
            self.thread.start()

    def describe(self) -> str:
        if self.every_taps:
            return f"between taps, every {self.every_taps} taps ({self.runs} runs)"
        if self.every_seconds:
            return f"concurrent thread, every {self.every_seconds:g} s ({self.runs} runs)"
        return "inside commits only (wal_autocheckpoint)"

    def after_tap(self, index: int) -> None:
        if self.every_taps and index % self.every_taps == self.every_taps - 1:
            self.once()

    def once(self) -> None:
        for conn in self.conns:
            # PASSIVE never waits for the writer, like the appliance's own checkpoints
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.runs += 1

    def _loop(self) -> None:
        while not self.done.wait(self.every_seconds):
            self.once()

    def close(self) -> None:
        self.done.set()
        if self.thread:
            self.thread.join()
        for conn in self.conns:
            conn.close()


def run(
    spec: ShopSpec,
    taps: int,
    warmup: int,
    profile_taps: int = 0,
    checkpoint_taps: int = 0,
    checkpoint_seconds: float = 0.0,
) -> dict:
    data_dir, build = ensure_shop(spec)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=OUT))
    try:
        # private copies: the cached shop never drifts, and neither side sees the other's rows
        for side in ("handle", "floor"):
            shutil.copytree(data_dir, work / side, ignore=shutil.ignore_patterns("build.json"))
        settings = load_settings(environ={}, data_dir=work / "handle", timezone="UTC")
        box = box_mod.start(settings)
        floor = FloorTap(work / "floor" / "stampbox.db", box.cooldown_micros)
        plan = plan_taps(data_dir / "stampbox.db", warmup + taps + profile_taps, spec.seed)
        checkpointer = Checkpointer(
            [work / side / "stampbox.db" for side in ("handle", "floor")],
            checkpoint_taps,
            checkpoint_seconds,
        )
        try:
            result = _measure(box, floor, checkpointer, plan, warmup, taps, profile_taps)
        finally:
            checkpointer.close()
            floor.close()
            box_mod.stop()
        result["checkpoints"] = checkpointer.describe()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.update(
        build_seconds=build["seconds"],
        db_bytes=build["db_bytes"],
        wal_autocheckpoint=SQLITE_PRAGMAS.get("wal_autocheckpoint", 1000),
    )
    return {"members": spec.members, "visits": spec.visits, **result}


def _measure(box, floor, checkpointer, plan, warmup, taps, profile_taps) -> dict:
    handle_ns, floor_ns = [], []
    statuses: dict[str, int] = {}
    unlocked = mismatches = 0
    clock = time.perf_counter_ns
    for i, (uid, now_us, amount) in enumerate(plan[: warmup + taps]):
        now = from_micros(now_us)
        for side in (0, 1) if i % 2 else (1, 0):
            if side == 0:
                start = clock()
                res = handle(uid, "bench", now=now, amount_cents=amount, box=box)
                took = clock() - start
                got = res.status, len(res.unlocked)
                if i >= warmup:
                    handle_ns.append(took)
            else:
                start = clock()
                want = floor.tap(uid, now_us, amount)
                took = clock() - start
                if i >= warmup:
                    floor_ns.append(took)
        checkpointer.after_tap(i)
        if got != want:
            mismatches += 1
        if i >= warmup:
            statuses[got[0]] = statuses.get(got[0], 0) + 1
            unlocked += got[1] > 0
    out = {"taps": taps, "warmup": warmup}
    for name, series in (("", handle_ns), ("floor_", floor_ns)):
        ms = sorted(ns / 1e6 for ns in series)
        out.update(
            {
                f"{name}p50_ms": round(percentile(ms, 0.50), 3),
                f"{name}p99_ms": round(percentile(ms, 0.99), 3),
                f"{name}max_ms": round(ms[-1], 3),
                f"{name}mean_ms": round(sum(ms) / len(ms), 3),
            }
        )
    p50_ratio = out["p50_ms"] / out["floor_p50_ms"]
    p99_ratio = out["p99_ms"] / out["floor_p99_ms"]
    out.update(
        p50_ratio=round(p50_ratio, 2),
        p99_ratio=round(p99_ratio, 2),
        target_met=p99_ratio <= TARGET_RATIO and out["p99_ms"] <= CEILING_MS,
        statuses=statuses,
        unlocked=unlocked,
        mismatches=mismatches,
    )
    if profile_taps:
        out["profile"] = _profile(box, plan[warmup + taps :])
    return out


def _profile(box, plan) -> str:
    """cProfile of handle() alone over extra taps (after the timed ones, so they stay clean)."""
    profiler = cProfile.Profile()
    gc.collect()
    for uid, now_us, amount in plan:
        now = from_micros(now_us)
        profiler.enable()
        handle(uid, "bench", now=now, amount_cents=amount, box=box)
        profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
    return text.getvalue()


def _table(result: dict) -> str:
    lines = [
        f"shop: {result['members']:,} members, {result['visits']:,} visits"
        f" ({result['db_bytes'] / 1e6:.0f} MB); {result['taps']:,} taps after"
        f" {result['warmup']} warm-up",
        f"{'':10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'mean ms':>10}",
    ]
    for label, key in (("handle()", ""), ("floor", "floor_")):
        lines.append(
            f"{label:10}"
            + "".join(
                f"{result[key + stat]:>10.3f}" for stat in ("p50_ms", "p99_ms", "max_ms", "mean_ms")
            )
        )
    lines += [
        f"ratio     {result['p50_ratio']:>10.2f}{result['p99_ratio']:>10.2f}",
        f"target (p99 ≤ {TARGET_RATIO:g}× floor and ≤ {CEILING_MS:g} ms):"
        f" {'met' if result['target_met'] else 'MISSED'}",
        f"WAL checkpoints: {result['checkpoints']};"
        f" wal_autocheckpoint={result['wal_autocheckpoint']} pages",
        f"statuses: {result['statuses']}, unlocking: {result['unlocked']},"
        f" handle/floor disagreements: {result['mismatches']}",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=ShopSpec.members)
    parser.add_argument("--visits", type=int, default=ShopSpec.visits)
    parser.add_argument("--seed", type=int, default=ShopSpec.seed)
    parser.add_argument("--taps", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="TAPS",
        help="then profile handle() over this many extra taps (to stderr)",
    )
    parser.add_argument(
        "--checkpoint-taps",
        type=int,
        default=0,
        metavar="N",
        help="checkpoint the WAL between taps, untimed, every N taps",
    )
    parser.add_argument(
        "--checkpoint-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="checkpoint the WAL from a concurrent thread every S seconds",
    )
    parser.add_argument(
        "--no-chain-events",
        action="store_true",
        help="what-if: handle() writes no chain event row (the floor still does)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.no_chain_events:
        # measures what skipping the row on a box in no chain would save; not a mode of the box
        import appliance.counter

        appliance.counter.record_chain_event = lambda *a, **k: None
    spec = ShopSpec(args.members, args.visits, args.seed)
    result = run(
        spec, args.taps, args.warmup, args.profile, args.checkpoint_taps, args.checkpoint_seconds
    )
    profile = result.pop("profile", None)
    print(json.dumps(result) if args.json else _table(result))
    if profile:
        print(profile, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
