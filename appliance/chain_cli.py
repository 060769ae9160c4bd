"""`stampbox chain status|relay|run|join` on a box; `stampbox chain provision|hub-config` and
`stampbox hub` at the centre."""

from __future__ import annotations

import signal
import time

from . import box as box_mod
from .cli import EXIT_OK, EXIT_REFUSED, UsageError, emit


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


def cmd_run(args) -> int:
    from .chain.sync import BoxSync

    sync = BoxSync(box_mod.start().db, args.nats)
    sync.initialize()
    if not args.once:
        sync.start_mirror()
    try:
        total = _run(sync, 0.0 if args.once else None, args.interval)
    finally:
        sync.shutdown()
    data = {"published": sync.relay.stats.published, "applied": sync.mirror.applied}
    return emit(args, data, f"sent and applied {total} message(s)", EXIT_OK)


def cmd_hub(args) -> int:
    from .chain.hub import Hub

    hub = Hub(box_mod.start().db, args.nats)
    hub.initialize(args.box or ())
    try:
        _run(hub, args.idle_seconds, 0.0)
    finally:
        hub.shutdown()
    stats = vars(hub.ingest.stats)
    return emit(args, stats, f"applied {stats['applied']}, absorbed {stats['absorbed']}")


def cmd_provision(args) -> int:
    from .chain.provision import ChainError, provision_box, write_bundle

    box = box_mod.start()
    try:
        bundle = provision_box(box.db, args.name, args.leaf_url, box.code_key)
    except ChainError as exc:
        raise UsageError(str(exc)) from None
    write_bundle(bundle, args.out)
    data = {"box_id": bundle["box_id"], "name": bundle["name"], "bundle": str(args.out)}
    text = (
        f"box {bundle['box_id']} ({bundle['name']}) registered; give it {args.out}"
        " (secret: it holds the chain's code key) and run `stampbox chain join` there;"
        " then `stampbox chain hub-config` and reload the centre's nats-server"
    )
    return emit(args, data, text)


def cmd_join(args) -> int:
    import json

    from .chain.provision import ChainError, join_chain

    try:
        bundle = json.loads(open(args.bundle, encoding="utf-8").read())
        data = join_chain(box_mod.start(), bundle, args.env_file, args.nats_port)
    except (OSError, ValueError, KeyError) as exc:
        if isinstance(exc, ChainError):
            return emit(args, {"error": str(exc)}, str(exc), EXIT_REFUSED)
        raise UsageError(f"{args.bundle}: not a box bundle ({exc})") from None
    text = (
        f"this box is now {data['box_id']}; start nats-server -c {data['nats_config']}"
        f" and set STAMPBOX_CHAIN_NATS_URL={data['chain_nats_url']}"
        + (" (written to " + str(args.env_file) + ")" if args.env_file else "")
    )
    return emit(args, data, text)


def cmd_hub_config(args) -> int:
    from pathlib import Path

    from .chain.provision import _write_private, hub_nats_config

    box = box_mod.start()
    text = hub_nats_config(box.db, Path(args.store).resolve(), args.port, args.leaf_port, args.host)
    _write_private(Path(args.out), text)
    return emit(args, {"config": str(args.out)}, f"wrote {args.out}")


def register(sub, add) -> None:
    group = sub.add_parser("chain", help="chain mode on a box").add_subparsers(
        dest="chain_command", required=True, metavar="ACTION"
    )
    add("status", cmd_status, "events waiting to be sent, last contact, lag", group)
    p = add("relay", cmd_relay, "send unsent events to the box's NATS JetStream", group)
    p.add_argument("--nats", default="nats://127.0.0.1:4222", help="the box's own nats-server")
    p.add_argument("--once", action="store_true", help="stop when nothing is left to send")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between idle passes")
    p = add("run", cmd_run, "send this box's events and apply the other shops' state", group)
    p.add_argument("--nats", default="nats://127.0.0.1:4222", help="the box's own nats-server")
    p.add_argument("--once", action="store_true", help="stop when nothing is left to do")
    p.add_argument("--interval", type=float, default=0.05, help="seconds between idle passes")
    p = add("provision", cmd_provision, "(centre) register a new box and write its bundle", group)
    p.add_argument("name", help="the shop's name")
    p.add_argument(
        "--leaf-url", required=True, help="the centre's leaf port: nats-leaf://HOST:7422"
    )
    p.add_argument("--out", required=True, help="the bundle file to write (secret)")
    p = add("join", cmd_join, "(box) join the chain with the bundle the centre made", group)
    p.add_argument("bundle", help="the bundle file from `stampbox chain provision`")
    p.add_argument("--env-file", help="the environment file the services read (sets chain mode)")
    p.add_argument("--nats-port", type=int, help="the box's nats-server port (default 4222)")
    p = add(
        "hub-config", cmd_hub_config, "(centre) nats-server configuration with every box", group
    )
    p.add_argument("--out", required=True, help="the configuration file to write")
    p.add_argument("--store", default="/var/lib/stampbox/nats", help="JetStream's folder")
    p.add_argument("--host", default="0.0.0.0", help="the address to listen on")
    p.add_argument("--port", type=int, default=4222, help="client port")
    p.add_argument("--leaf-port", type=int, default=7422, help="leaf node port (the boxes)")
    p = add("hub", cmd_hub, "the centre: ingest, voucher claims and the state stream")
    p.add_argument("--nats", default="nats://127.0.0.1:4222", help="the hub's nats-server")
    p.add_argument(
        "--box", action="append", help="a box id whose stream the hub sources (repeatable)"
    )
    p.add_argument(
        "--idle-seconds", type=float, help="stop after this long without an event (default: never)"
    )
