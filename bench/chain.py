"""Chain mode throughput and delay: boxes' taps → relay → JetStream (leaf) → hub → PostgreSQL.

    .venv/bin/python bench/chain.py [--boxes 3] [--events 2000] [--rate 50] [--seconds 10] [--json]

Everything runs on this machine: a throwaway PostgreSQL cluster (Debian's initdb), one hub
nats-server, one nats-server per box as its leaf, each box a SQLite shop. Two phases:
1. drain: every box holds --events unsent events; relays and the ingest start together;
   events/s = all events / time until PostgreSQL has them all.
2. delay: taps at --rate per second spread over the boxes for --seconds while relays and the
   ingest run; the delay of each event is the hub's commit time minus the tap's time.
"""

from __future__ import annotations

import argparse
import json
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
from appliance.chain.ingest import Ingest  # noqa: E402
from appliance.chain.natsbin import NatsServer, box_config, hub_config  # noqa: E402
from appliance.chain.relay import Relay  # noqa: E402
from appliance.clock import utcnow  # noqa: E402
from appliance.counter import handle  # noqa: E402
from appliance.db import open_database  # noqa: E402
from appliance.members import add_member  # noqa: E402
from appliance.provision import init_box  # noqa: E402
from appliance.settings import load_settings  # noqa: E402
from tests.pg.cluster import Cluster, free_port  # noqa: E402

CARDS = 50


def _percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def _make_box(folder: Path, leaf_url: str):
    settings = load_settings(
        environ={}, data_dir=folder / "var", timezone="UTC", stamp_cooldown_minutes=0
    )
    init_box(settings)
    box = box_mod.current()
    uids = [f"04{i:012X}" for i in range(1, CARDS + 1)]
    for uid in uids:
        add_member("M", card_uid=uid)
    port = free_port()
    server = NatsServer(
        folder / "nats", box_config(folder / "js", port, box_id(box.db), leaf_url), port
    )
    return box, uids, server.start()


def _tap(box, uids, i, now=None):
    handle(uids[i % len(uids)], "bench", box=box, now=now)


def _count(db):
    return db.execute_sql("SELECT COUNT(*) FROM chain_inbox").fetchone()[0]


class _Loop(threading.Thread):
    def __init__(self, runner, idle_sleep=0.005):
        super().__init__(daemon=True)
        self.runner, self.idle_sleep, self.stop = runner, idle_sleep, threading.Event()

    def run(self):
        while not self.stop.is_set():
            if not self.runner.loop() and self.idle_sleep:
                time.sleep(self.idle_sleep)


def run(boxes: int, events: int, rate: float, seconds: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix="stampbox-bench-chain-"))
    cluster = Cluster().start()
    servers = []
    try:
        hub_url = cluster.url(cluster.create_database())
        hub_db = open_database(
            load_settings(environ={}, data_dir=work / "hub", database_url=hub_url), bind=False
        )
        migrate.upgrade(hub_db)
        port, leaf = free_port(), free_port()
        hub = NatsServer(work / "hub-nats", hub_config(work / "hub-js", port, leaf), port).start()
        servers.append(hub)
        shops = []
        for n in range(boxes):
            box, uids, server = _make_box(work / f"box{n}", f"nats-leaf://127.0.0.1:{leaf}")
            servers.append(server)
            shops.append((box, uids, server))
        # phase 1: a backlog on every box, then everything drains at once
        start = utcnow() - timedelta(days=1)
        for box, uids, _server in shops:
            with box.db.atomic():
                for i in range(events):
                    _tap(box, uids, i, now=start + timedelta(seconds=i))
        relays = []
        for box, _uids, server in shops:
            relay = Relay(box.db, server.url)
            relay.initialize()
            relays.append(relay)
        ingest = Ingest(hub_db, hub.url)
        ingest.initialize([box_id(b.db) for b, _u, _s in shops])
        total = boxes * events
        began = time.perf_counter()
        threads = [_Loop(r) for r in relays]
        for t in threads:
            t.start()
        relay_done = None
        while _count(hub_db) < total:
            ingest.loop(timeout=0.2)
            if relay_done is None and all(t.runner.stats.marked >= events for t in threads):
                relay_done = time.perf_counter() - began
            if time.perf_counter() - began > 600:
                raise RuntimeError("drain did not finish in 10 minutes")
        drained = time.perf_counter() - began
        # phase 2: live taps at a steady rate, delay from the tap to the hub's commit
        ingest_thread = _Loop(ingest, idle_sleep=0)
        ingest_thread.start()
        before = _count(hub_db)
        t0 = time.time()
        taps = 0
        while time.time() - t0 < seconds:
            box, uids, _server = shops[taps % boxes]
            _tap(box, uids, taps)
            taps += 1
            time.sleep(max(0.0, t0 + taps / rate - time.time()))
        deadline = time.time() + 120
        while _count(hub_db) < before + taps and time.time() < deadline:
            time.sleep(0.05)
        for t in [*threads, ingest_thread]:
            t.stop.set()
            t.join(timeout=30)
        delays = [
            (applied - created) / 1000
            for applied, created in hub_db.execute_sql(
                "SELECT applied_at, created_at FROM chain_inbox ORDER BY applied_at DESC LIMIT %s",
                (taps,),
            )
        ]
        for relay in relays:
            relay.shutdown()
        ingest.shutdown()
        return {
            "boxes": boxes,
            "backlog_events": total,
            "relay_seconds": round(relay_done or drained, 3),
            "drain_seconds": round(drained, 3),
            "events_per_second": round(total / drained, 1),
            "live_taps": taps,
            "live_rate_per_second": rate,
            "delay_p50_ms": round(_percentile(delays, 0.5), 1),
            "delay_p99_ms": round(_percentile(delays, 0.99), 1),
        }
    finally:
        for server in servers:
            server.stop()
        box_mod.stop()
        cluster.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=3)
    parser.add_argument("--events", type=int, default=2000, help="backlog per box")
    parser.add_argument("--rate", type=float, default=50.0, help="live taps per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="live phase length")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.boxes, args.events, args.rate, args.seconds)
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
