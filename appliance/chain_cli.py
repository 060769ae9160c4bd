"""`stampbox chain status|relay` on a box and `stampbox hub` at the centre."""

from __future__ import annotations

import signal
import time

from . import box as box_mod
from .cli import EXIT_OK, emit


def cmd_status(args) -> int:
    from .chain.status import sync_state

    state = sync_state(box_mod.start().db)
    text = (
        f"box {state['box_id']}: {state['pending_events']} event(s) waiting"
        f" (lag {state['lag_seconds']} s), last sent {state['last_sent_at'] or 'never'}"
    )
    return emit(args, state, text)


class _Stop:
    """SIGTERM/SIGINT end the loop after the current pass (nothing is cut half way)."""

    def __init__(self) -> None:
        self.asked = False
        signal.signal(signal.SIGTERM, self._ask)
        signal.signal(signal.SIGINT, self._ask)

    def _ask(self, *_args) -> None:
        self.asked = True


def _run(runner, idle_limit: float | None, interval: float) -> int:
    """Call runner.loop() until SIGTERM, or until idle for idle_limit seconds."""
    stop = _Stop()
    total, idle_since = 0, time.monotonic()
    while not stop.asked:
        done = runner.loop()
        total += done
        if done:
            idle_since = time.monotonic()
        elif idle_limit is not None and time.monotonic() - idle_since >= idle_limit:
            break
        elif interval:
            time.sleep(interval)
    return total


def cmd_relay(args) -> int:
    from .chain.relay import Relay

    relay = Relay(box_mod.start().db, args.nats)
    relay.initialize()
    try:
        total = _run(relay, 0.0 if args.once else None, args.interval)
    finally:
        relay.shutdown()
    data = {"published": total, "duplicates": relay.stats.duplicates}
    return emit(args, data, f"published {total} event(s)", EXIT_OK)


def cmd_hub(args) -> int:
    from .chain.ingest import Ingest

    ingest = Ingest(box_mod.start().db, args.nats)
    ingest.initialize(args.box or ())
    try:
        _run(ingest, args.idle_seconds, 0.0)
    finally:
        ingest.shutdown()
    stats = vars(ingest.stats)
    return emit(args, stats, f"applied {stats['applied']}, absorbed {stats['absorbed']}")


def register(sub, add) -> None:
    group = sub.add_parser("chain", help="chain mode on a box").add_subparsers(
        dest="chain_command", required=True, metavar="ACTION"
    )
    add("status", cmd_status, "events waiting to be sent, last contact, lag", group)
    p = add("relay", cmd_relay, "send unsent events to the box's NATS JetStream", group)
    p.add_argument("--nats", default="nats://127.0.0.1:4222", help="the box's own nats-server")
    p.add_argument("--once", action="store_true", help="stop when nothing is left to send")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between idle passes")
    p = add("hub", cmd_hub, "the centre: ingest every box's events into this database")
    p.add_argument("--nats", default="nats://127.0.0.1:4222", help="the hub's nats-server")
    p.add_argument(
        "--box", action="append", help="a box id whose stream the hub sources (repeatable)"
    )
    p.add_argument(
        "--idle-seconds", type=float, help="stop after this long without an event (default: never)"
    )
