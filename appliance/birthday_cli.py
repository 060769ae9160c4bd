"""`stampbox birthdays run|set|show|upcoming|months`: the daily job by hand, the owner's gift
settings, and what the admin's birthday page shows."""

from __future__ import annotations

from datetime import datetime

from . import box as box_mod
from .birthdays import BirthdayError, BirthdayGift, load_gift, run_birthdays, save_gift
from .cli import UsageError, emit, parse_at
from .clock import iso


def cmd_run(args) -> int:
    box_mod.start()
    result = run_birthdays(parse_at(args.as_of))
    lines = [
        f"{len(result['issued'])} birthday gift(s) issued, {result['skipped']} already had one."
    ]
    lines += [
        f"  member {g['member_id']}: {g['voucher_code'] or 'on the card'} until {g['valid_until']}"
        for g in result["issued"]
    ]
    return emit(args, result, "\n".join(lines))


def cmd_set(args) -> int:
    box_mod.start()
    current = load_gift()
    wanted = BirthdayGift(
        gift=args.gift if args.gift is not None else current.gift,
        kind=args.kind or current.kind,
        lead_days=args.lead_days if args.lead_days is not None else current.lead_days,
        after_days=args.after_days if args.after_days is not None else current.after_days,
        enabled=current.enabled if args.enabled is None else args.enabled == "yes",
    )
    try:
        gift = save_gift(wanted, actor="cli")
    except BirthdayError as exc:
        raise UsageError(str(exc)) from None
    return emit(args, gift.to_dict(), _describe(gift))


def cmd_show(args) -> int:
    box_mod.start()
    gift = load_gift()
    return emit(args, gift.to_dict(), _describe(gift))


def cmd_upcoming(args) -> int:
    from .birthday_report import upcoming_birthdays

    box_mod.start()
    report = upcoming_birthdays(parse_at(args.as_of), days=args.days)
    for member in report["members"]:
        gift = member["gift"]
        if gift:  # plain JSON: moments as ISO-8601 text
            member["gift"] = {k: iso(v) if isinstance(v, datetime) else v for k, v in gift.items()}
    lines = [f"{report['total']} birthday(s) in the {report['days']} days from {report['from']}."]
    lines += [
        f"  {m['date']}  {m['name'] or '#' + str(m['member_id'])}"
        f"  gift: {m['gift']['state'] if m['gift'] else 'not issued yet'}"
        for m in report["members"]
    ]
    return emit(args, report, "\n".join(lines))


def cmd_months(args) -> int:
    from .birthday_report import monthly_gifts

    box_mod.start()
    rows = monthly_gifts(parse_at(args.as_of), months=args.months)
    lines = ["month    issued redeemed expired"]
    lines += [f"{r['month']}  {r['issued']:>6} {r['redeemed']:>8} {r['expired']:>7}" for r in rows]
    return emit(args, {"months": rows}, "\n".join(lines))


def _days(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 366:
        raise ValueError(text)
    return value


def _describe(gift: BirthdayGift) -> str:
    state = "on" if gift.enabled else "off"
    return (
        f"Birthday gift ({state}): {gift.gift} as a {gift.kind}, from {gift.lead_days} days "
        f"before the birthday until {gift.after_days} days after."
    )


def register(sub, add) -> None:
    group = sub.add_parser("birthdays", help="birthday gifts").add_subparsers(
        dest="birthday_command", required=True, metavar="ACTION"
    )
    p = add("run", cmd_run, "issue today's birthday gifts (what the daily job does)", group)
    p.add_argument("--as-of", help="ISO-8601 moment to run for (default: now)")
    p = add("set", cmd_set, "set the birthday gift", group)
    p.add_argument("--gift", help="the gift's name, e.g. 'Free drink'")
    p.add_argument("--kind", choices=("voucher", "card"))
    p.add_argument("--lead-days", type=int, help="available this many days before (default 7)")
    p.add_argument("--after-days", type=int, help="valid until this many days after (default 14)")
    p.add_argument("--enabled", choices=("yes", "no"))
    add("show", cmd_show, "show the birthday gift settings", group)
    p = add("upcoming", cmd_upcoming, "members whose birthday is in the next days", group)
    p.add_argument("--days", type=_days, default=30, help="how many days (default 30)")
    p.add_argument("--as-of", help="ISO-8601 moment to count from (default: now)")
    p = add("months", cmd_months, "birthday gifts issued, redeemed, expired per month", group)
    p.add_argument("--months", type=_days, default=12, help="how many months (default 12)")
    p.add_argument("--as-of", help="ISO-8601 moment of the newest month (default: now)")
