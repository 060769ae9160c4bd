"""`stampbox messages`: every message's state with its reason, and sending one again.

Campaign pages count outcomes per campaign; this lists single messages of every kind
(campaigns, automations, signup confirmations), so a failure or an "uncertain" SMS is never
invisible, and the owner can decide to send one again.
"""

from __future__ import annotations

from . import box as box_mod
from .cli import EXIT_REFUSED, emit
from .clock import utcnow
from .outbox import PROBLEM_STATES, STATES, list_messages, send_again


def cmd_messages_list(args) -> int:
    box = box_mod.start()
    states = args.state or (PROBLEM_STATES if args.problems else None)
    rows = list_messages(box.db, states, args.limit)
    text = "\n".join(
        f"{r['id']:>7}  {r['created_at'][:16]}  {r['channel'] or '-':6} {r['kind']:15}"
        f" member {r['member_id']}  {r['state']}" + (f": {r['reason']}" if r["reason"] else "")
        for r in rows
    )
    return emit(args, {"messages": rows}, text or "No messages.")


def cmd_messages_send_again(args) -> int:
    box = box_mod.start()
    if not send_again(box.db, args.id, utcnow()):
        message = (
            f"Message {args.id} is not failed or uncertain: only those can be sent again"
            " (`stampbox messages list --problems` shows them)."
        )
        return emit(args, {"error": message}, message, EXIT_REFUSED)
    return emit(
        args,
        {"id": args.id, "state": "pending"},
        f"Message {args.id} will be sent again (the worker picks it up within a minute).",
    )


def register(sub, add) -> None:
    group = sub.add_parser("messages", help="single messages, their state and reason")
    actions = group.add_subparsers(dest="messages_command", required=True, metavar="ACTION")
    p = add("list", cmd_messages_list, "the latest messages, newest first", actions)
    p.add_argument("--state", action="append", choices=STATES[:-1], help="repeatable")
    p.add_argument("--problems", action="store_true", help="failed, uncertain, suppressed")
    p.add_argument("--limit", type=int, default=50)
    p = add("send-again", cmd_messages_send_again, "send a failed/uncertain one again", actions)
    p.add_argument("id", type=int)
