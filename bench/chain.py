"""Chain mode: events/s box → PostgreSQL, stamp-in-A → visible-in-B delay, drain after an outage.

    .venv/bin/python bench/chain.py [--boxes 3] [--events 500] [--rate 20] [--seconds 20]
                                    [--outage-taps 1200] [--json]

Everything runs on this machine: a throwaway PostgreSQL cluster (Debian's initdb), the hub's
nats-server and `stampbox hub`'s three services (ingest, claims, state publisher), one
nats-server per box as its leaf, each box a SQLite shop running its relay and mirror in a
thread of its own. Phases:
1. drain: every box holds --events unsent events; the boxes' sync and the hub start together;
   events/s = all events / time until PostgreSQL's inbox has them all.
2. live: --rate taps per second spread over the boxes for --seconds, and twice a second a
   probe: a stamp in one shop on a card no one else touches, while a watcher polls another
   shop's SQLite (every 2 ms) until that card shows the stamp. The delay is the watcher's
   time minus the tap's time (one clock).
3. outage: the hub's nats-server is killed; --outage-taps taps are made in the shops and
   handed to their own JetStream; the hub's server restarts. Drain = time from the restart
   until PostgreSQL has every event and every shop shows every shop's stamps.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from appliance import box as box_mod  # noqa: E402
from appliance import migrate  # noqa: E402
from appliance.chain import box_id  # noqa: E402
from appliance.chain.hub import Hub  # noqa: E402
from appliance.chain.natsbin import NatsServer, box_config, hub_config  # noqa: E402
from appliance.chain.sync import BoxSync  # noqa: E402
from appliance.clock import utcnow  # noqa: E402
from appliance.counter import handle  # noqa: E402
from appliance.db import database, open_database  # noqa: E402
from appliance.members import add_member  # noqa: E402
from appliance.provision import init_box  # noqa: E402
from appliance.settings import load_settings  # noqa: E402
from tests.pg.cluster import Cluster, free_port  # noqa: E402

CARDS = 20  # per box
PROBES = 200  # probe cards (enrolled in box 0, known everywhere before the live phase)


def _percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def _make_box(folder: Path, leaf_url: str, n: int):
    settings = load_settings(
        environ={}, data_dir=folder / "var", timezone="UTC", stamp_cooldown_minutes=0
    )
    init_box(settings)
    box = box_mod.current()
    uids = [f"04{n:04X}{i:08X}" for i in range(1, CARDS + 1)]
    for uid in uids:
        add_member("M", card_uid=uid)
    port = free_port()
    server = NatsServer(
        folder / "nats", box_config(folder / "js", port, box_id(box.db), leaf_url), port
    )
    return box, uids, server.start()


class _Loop(threading.Thread):
    def __init__(self, runner, idle_sleep=0.005):
        super().__init__(daemon=True)
        self.runner, self.idle_sleep, self.stop = runner, idle_sleep, threading.Event()
        self.paused = threading.Event()

    def run(self):
        while not self.stop.is_set():
            if self.paused.is_set():
                time.sleep(0.01)
                continue
            if not self.runner.loop() and self.idle_sleep:
                time.sleep(self.idle_sleep)


def _count(db, query):
    return db.execute_sql(query).fetchone()[0] or 0


def _visits_seen(box, uid) -> int:
    row = box.db.execute_sql(
        "SELECT m.visit_count FROM card c JOIN member m ON m.id = c.member_id WHERE c.nfc_uid = ?",
        (uid,),
    ).fetchone()
    return row[0] if row else 0


def _converged(hub_db, shops) -> bool:
    """PostgreSQL has every box event, and every shop's counts equal the centre's."""
    events = sum(_count(b.db, "SELECT COUNT(*) FROM event") for b, _u, _s in shops)
    if _count(hub_db, "SELECT COUNT(*) FROM chain_inbox") < events:
        return False
    if _count(hub_db, "SELECT COUNT(*) FROM chain_dirty"):
        return False
    want = _count(hub_db, "SELECT COUNT(*) FROM chain_visit")
    for box, _uids, _server in shops:
        if _count(box.db, "SELECT SUM(visit_count) FROM member") != want:
            return False
    return True


def _wait(check, limit=600.0, step=0.05) -> float:
    began = time.perf_counter()
    while not check():
        if time.perf_counter() - began > limit:
            raise RuntimeError("did not settle in time")
        time.sleep(step)
    return time.perf_counter() - began


def run(boxes: int, events: int, rate: float, seconds: float, outage_taps: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="stampbox-bench-chain-"))
    cluster = Cluster().start()
    servers, loops, syncs = [], [], []
    rng = random.Random(1)
    try:
        hub_url = cluster.url(cluster.create_database())
        hub_db = open_database(
            load_settings(environ={}, data_dir=work / "hub", database_url=hub_url), bind=False
        )
        migrate.upgrade(hub_db)
        port, leaf = free_port(), free_port()
        hub_server = NatsServer(work / "hub-nats", hub_config(work / "hub-js", port, leaf), port)
        servers.append(hub_server.start())
        hub = Hub(hub_db, hub_server.url)
        hub.initialize()
        shops = []
        for n in range(boxes):
            shop = _make_box(work / f"box{n}", f"nats-leaf://127.0.0.1:{leaf}", n)
            servers.append(shop[2])
            shops.append(shop)
        probes = [f"05{i:012X}" for i in range(PROBES)]
        database.initialize(shops[0][0].db)
        for uid in probes:
            add_member("Probe", card_uid=uid)
        hub.add_boxes([box_id(b.db) for b, _u, _s in shops])
        # phase 1: a backlog on every box (enrolments included), then all of it drains
        start = utcnow() - timedelta(days=1)
        for box, uids, _server in shops:
            with box.db.atomic():
                for i in range(events):
                    handle(uids[i % len(uids)], "bench", box=box, now=start + timedelta(seconds=i))
        backlog = sum(_count(b.db, "SELECT COUNT(*) FROM event") for b, _u, _s in shops)
        for box, _uids, server in shops:
            sync = BoxSync(box.db, server.url)
            sync.initialize()
            sync.start_mirror()
            syncs.append(sync)
            loops.append(_Loop(sync))
        hub_loop = _Loop(hub, idle_sleep=0)
        began = time.perf_counter()
        for loop in [*loops, hub_loop]:
            loop.start()
        _wait(lambda: _count(hub_db, "SELECT COUNT(*) FROM chain_inbox") >= backlog)
        drained = time.perf_counter() - began
        _wait(lambda: _converged(hub_db, shops))
        mirrored = time.perf_counter() - began

        # phase 2: steady taps and probes, A → B visibility
        delays, lock = [], threading.Lock()

        def probe(uid, tap_at, watched):
            while _visits_seen(watched, uid) < 1:
                if time.perf_counter() - tap_at > 60:
                    return
                time.sleep(0.002)
            with lock:
                delays.append((time.perf_counter() - tap_at) * 1000)

        watchers, taps, next_probe = [], 0, 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            box, uids, _server = shops[taps % boxes]
            handle(uids[rng.randrange(len(uids))], "bench", box=box)
            taps += 1
            if time.perf_counter() - t0 >= next_probe * 0.5 and next_probe < len(probes):
                a, b = rng.sample(range(boxes), 2)
                uid = probes[next_probe]
                tap_at = time.perf_counter()
                handle(uid, "probe", box=shops[a][0])
                w = threading.Thread(target=probe, args=(uid, tap_at, shops[b][0]), daemon=True)
                w.start()
                watchers.append(w)
                next_probe += 1
            time.sleep(max(0.0, t0 + taps / rate - time.perf_counter()))
        for w in watchers:
            w.join(timeout=90)
        _wait(lambda: _converged(hub_db, shops))

        # phase 3: the centre's server killed; taps go on; restart; drain
        hub_loop.paused.set()
        time.sleep(0.5)
        hub_server.kill()
        at = utcnow()
        for i in range(outage_taps):
            box, uids, _server = shops[i % boxes]
            handle(uids[rng.randrange(len(uids))], "outage", box=box, now=at)
        _wait(lambda: all(s.relay.pending() == [] for s in syncs), limit=120)
        hub_server.start()
        hub_loop.paused.clear()
        restarted = time.perf_counter()
        _wait(lambda: _converged(hub_db, shops))
        outage_drain = time.perf_counter() - restarted
        return {
            "boxes": boxes,
            "backlog_events": backlog,
            "drain_seconds": round(drained, 2),
            "events_per_second": round(backlog / drained, 1),
            "all_shops_show_all_stamps_seconds": round(mirrored, 2),
            "live_taps": taps,
            "live_rate_per_second": rate,
            "probes": len(delays),
            "a_to_b_p50_ms": round(_percentile(delays, 0.5) or 0, 1),
            "a_to_b_p99_ms": round(_percentile(delays, 0.99) or 0, 1),
            "outage_taps": outage_taps,
            "outage_drain_seconds": round(outage_drain, 2),
        }
    finally:
        for loop in loops:
            loop.stop.set()
        for loop in loops:
            loop.join(timeout=30)
        for sync in syncs:
            sync.shutdown()
        try:
            hub.shutdown()
        except Exception:  # noqa: BLE001 - the hub may not have started
            pass
        for server in servers:
            server.stop()
        box_mod.stop()
        cluster.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=3)
    parser.add_argument("--events", type=int, default=500, help="backlog per box")
    parser.add_argument("--rate", type=float, default=20.0, help="live taps per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="live phase length")
    parser.add_argument(
        "--outage-taps", type=int, default=1200, help="taps made while the centre is down"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.boxes, args.events, args.rate, args.seconds, args.outage_taps)
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
