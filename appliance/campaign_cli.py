"""`stampbox segment ...` and `stampbox campaign create|send|status|cancel|preview ...`."""

from __future__ import annotations

import json
import sys
from datetime import datetime

from . import box as box_mod

EXIT_OK, EXIT_USAGE, EXIT_REFUSED = 0, 2, 3


class _Usage(Exception):
    pass


def _emit(args, data: dict, text: str, code: int = EXIT_OK) -> int:
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(text)
    return code


def _guard(func):
    """Own error handling: a sentence on stderr and exit 2, whichever cli module runs us."""

    def run(args):
        from .automations import AutomationError
        from .campaigns import CampaignError
        from .segments import SegmentError

        try:
            return func(args)
        except (_Usage, SegmentError, CampaignError, AutomationError) as exc:
            if args.json:
                print(json.dumps({"status": "error", "error": str(exc)}))
            print(f"stampbox: {exc}", file=sys.stderr)
            return EXIT_USAGE

    return run


def parse_local(text: str | None, zone, flag: str) -> datetime | None:
    """ISO-8601; a time without an offset is in the shop's zone."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _Usage(f"{flag} {text!r} is not an ISO-8601 time like 2026-11-24T09:30:00.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone) if zone else moment.astimezone()
    return moment


def parse_params(items: list[str] | None) -> dict:
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise _Usage(f"--param {item!r} must look like key=value.")
        params[key.strip()] = value.strip()
    return params


@_guard
def cmd_segment(args) -> int:
    from . import segments

    box = box_mod.start()
    if args.list or not args.name:
        saved = [
            {"name": n, "kind": k, "params": json.loads(p)}
            for n, k, p in box.db.execute_sql(
                "SELECT name, kind, params FROM segment ORDER BY name"
            ).fetchall()
        ]
        data = {
            "built_in": [
                {"name": k.name, "help": k.help, "params": segments.params_json(k.defaults)}
                for k in segments.KINDS.values()
            ],
            "saved": saved,
        }
        lines = [f"{k['name']:16} {k['help']} {k['params']}" for k in data["built_in"]]
        lines += [f"{s['name']:16} ({s['kind']}) {s['params']}" for s in saved]
        return _emit(args, data, "\n".join(lines))
    params = parse_params(args.param)
    if args.save_as:
        seg = segments.resolve(args.name, params, box=box)
        saved = segments.save_segment(args.save_as, seg.kind, seg.params, box=box)
        return _emit(args, saved, f"Segment {saved['name']!r} saved: {seg.kind} {saved['params']}")
    seg = segments.resolve(args.name, params, parse_local(args.as_of, box.zone, "--as-of"), box)
    result = segments.evaluate(seg, box)
    ids = ", ".join(str(m["id"]) for m in result["members"][:20])
    more = " ..." if result["count"] > 20 else ""
    return _emit(args, result, f"{result['segment']}: {result['count']} members {ids}{more}")


@_guard
def cmd_campaign_create(args) -> int:
    from .campaigns import create_campaign

    box = box_mod.start()
    content = {}
    if "email" in args.channel:
        content["email"] = {"": {"subject": args.subject, "text": args.text, "html": args.html}}
    if "sms" in args.channel:
        content["sms"] = {"": {"text": args.sms_text if args.sms_text is not None else args.text}}
    if "wallet" in args.channel:
        text = args.wallet_text if args.wallet_text is not None else args.text
        content["wallet"] = {"": {"subject": args.subject, "text": text}}
    campaign = create_campaign(
        args.name,
        args.segment,
        parse_params(args.param),
        args.channel,
        content,
        voucher_reward=args.voucher,
        voucher_days=args.voucher_days,
        box=box,
    )
    return _emit(args, {"id": campaign["id"]}, f"Campaign {campaign['id']} created (draft).")


@_guard
def cmd_campaign_send(args) -> int:
    from .campaigns import send_campaign

    box = box_mod.start()
    at = parse_local(args.at, box.zone, "--at")
    result = send_campaign(args.id, at=at, box=box)
    if result["state"] == "scheduled":
        text = f"Campaign {args.id} scheduled for {result['scheduled_at']}."
    else:
        text = f"Campaign {args.id} queued for {result['recipients']} recipients."
    _kick_worker()
    return _emit(args, result, text)


def _kick_worker() -> None:
    """Ask the worker to deliver now rather than at its next minute tick."""
    try:
        from .jobs import deliver_outbox
    except ImportError:  # the worker task is not wired up in this checkout
        return
    deliver_outbox()


@_guard
def cmd_campaign_status(args) -> int:
    from .campaigns import campaign_status

    box = box_mod.start()
    status = campaign_status(args.id, box=box)
    text = (
        f"Campaign {args.id}: {status['state']}, {status['recipients']} recipients,"
        f" {status['queued']} queued, {status['sent']} sent, {status['failed']} failed,"
        f" {status['suppressed']} suppressed, {status['uncertain']} uncertain"
    )
    return _emit(args, status, text)


@_guard
def cmd_campaign_cancel(args) -> int:
    from .campaigns import cancel_campaign

    box = box_mod.start()
    result = cancel_campaign(args.id, box=box)
    return _emit(args, result, f"Campaign {args.id} cancelled.")


@_guard
def cmd_campaign_preview(args) -> int:
    from .campaigns import preview_campaign

    box = box_mod.start()
    result = preview_campaign(args.id, args.member, box=box)
    lines = []
    for channel, msg in result.items():
        lines.append(f"--- {channel}")
        lines += [f"{k}: {v}" for k, v in msg.items()]
    return _emit(args, result, "\n".join(lines))


@_guard
def cmd_campaign_test(args) -> int:
    from .campaigns import send_test

    box = box_mod.start()
    provider_id = send_test(args.id, args.channel, args.to, args.member, box=box)
    return _emit(
        args,
        {"id": args.id, "channel": args.channel, "to": args.to, "provider_id": provider_id},
        f"Test sent to {args.to}.",
    )


@_guard
def cmd_automation_list(args) -> int:
    from . import automations

    box = box_mod.start()
    data = [automations.load(name, box) for name in automations.DEFAULTS]
    lines = [
        f"{a['name']:16} {'on ' if a['enabled'] else 'off'} {','.join(a['channels']) or '-'}"
        f" {a['params']}"
        for a in data
    ]
    return _emit(args, {"automations": data}, "\n".join(lines))


@_guard
def cmd_automation_set(args) -> int:
    from . import automations

    box = box_mod.start()
    current = automations.load(args.name, box)
    params = {}
    for key, value in parse_params(args.param).items():
        try:
            params[key] = int(value)
        except ValueError:
            raise _Usage(f"--param {key} must be a whole number.") from None
    content = json.loads(args.content) if args.content else None
    try:
        saved = automations.configure(
            args.name,
            enabled=current["enabled"] if args.enabled is None else args.enabled,
            channel_names=args.channel if args.channel else current["channels"],
            content=content,
            params=params,
            box=box,
        )
    except automations.AutomationError as exc:
        raise _Usage(str(exc)) from None
    state = "on" if saved["enabled"] else "off"
    return _emit(args, saved, f"Automation {args.name} is {state}.")


@_guard
def cmd_automation_preview(args) -> int:
    from . import automations

    box = box_mod.start()
    try:
        result = automations.preview(args.name, args.member, box=box)
    except automations.AutomationError as exc:
        raise _Usage(str(exc)) from None
    lines = []
    for channel, msg in result.items():
        lines.append(f"--- {channel}")
        lines += [f"{k}: {v}" for k, v in msg.items() if k != "html"]
    return _emit(args, result, "\n".join(lines))


def _channel_names() -> tuple[str, ...]:
    from .channels import REGISTRY

    return tuple(REGISTRY)


def register(sub, add) -> None:
    p = add("segment", cmd_segment, "evaluate (or save) a segment of members")
    p.add_argument("name", nargs="?", help="a built-in segment or one saved by the owner")
    p.add_argument("--as-of", help="ISO-8601 moment (default now; no offset = the shop's zone)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE")
    p.add_argument("--save-as", metavar="NAME", help="save with these parameters under NAME")
    p.add_argument("--list", action="store_true", help="list built-in and saved segments")

    campaign = sub.add_parser("campaign", help="campaigns to a segment").add_subparsers(
        dest="campaign_command", required=True, metavar="ACTION"
    )
    p = add("create", cmd_campaign_create, "create a campaign (a draft)", campaign)
    p.add_argument("--name", required=True)
    p.add_argument("--segment", required=True)
    p.add_argument("--param", action="append", metavar="KEY=VALUE")
    p.add_argument("--channel", action="append", required=True, choices=_channel_names())
    p.add_argument("--subject", default="")
    p.add_argument("--text", default="")
    p.add_argument("--html")
    p.add_argument("--sms-text")
    p.add_argument("--wallet-text", help="the wallet pass message (default: --text)")
    p.add_argument("--voucher", metavar="REWARD", help="issue each recipient a voucher")
    p.add_argument("--voucher-days", type=int, default=30)
    p = add("send", cmd_campaign_send, "queue a campaign now or at a time", campaign)
    p.add_argument("id", type=int)
    p.add_argument("--at", help="ISO-8601 (no offset = the shop's zone)")
    p = add("test", cmd_campaign_test, "send the message to yourself now", campaign)
    p.add_argument("id", type=int)
    p.add_argument("--channel", choices=_channel_names(), default="email")
    p.add_argument("--to", required=True, help="your email address or phone number")
    p.add_argument("--member", type=int, help="fill the variables from this member")
    p = add("status", cmd_campaign_status, "a campaign's progress", campaign)
    p.add_argument("id", type=int)
    p = add("cancel", cmd_campaign_cancel, "cancel a scheduled campaign", campaign)
    p.add_argument("id", type=int)
    p = add("preview", cmd_campaign_preview, "render a campaign for one member", campaign)
    p.add_argument("id", type=int)
    p.add_argument("--member", type=int, required=True)

    auto = sub.add_parser("automation", help="automatic messages").add_subparsers(
        dest="automation_command", required=True, metavar="ACTION"
    )
    add("list", cmd_automation_list, "automations and their settings", auto)
    p = add("set", cmd_automation_set, "switch an automation on/off, channels, parameters", auto)
    p.add_argument("name")
    on_off = p.add_mutually_exclusive_group()
    on_off.add_argument("--on", dest="enabled", action="store_true", default=None)
    on_off.add_argument("--off", dest="enabled", action="store_false")
    p.add_argument("--channel", action="append", choices=_channel_names())
    p.add_argument("--param", action="append", metavar="KEY=VALUE")
    p.add_argument("--content", help='JSON: {"email": {"": {"subject": ..., "text": ...}}}')
    p = add("preview", cmd_automation_preview, "render an automation for one member", auto)
    p.add_argument("name")
    p.add_argument("--member", type=int, required=True)
