"""`stampbox birthdays run|set|show`: the daily job by hand, and the owner's gift settings."""

from __future__ import annotations

from . import box as box_mod
from .birthdays import BirthdayError, BirthdayGift, load_gift, run_birthdays, save_gift
from .cli import UsageError, emit, parse_at


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
