"""What the owner sees of birthdays: who has one soon, the gifts per month, one member's flag.

Dates are the shop's calendar (birthdays.shop_zone). A birthday gift is the voucher whose
source key is "birthday:<member>:<year of the birthday>": the upcoming list looks each one up
by that key, and on SQLite the monthly counts find them all through its unique index.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from . import box as box_mod
from .birthdays import _local_midnight, birthday_in, local_date, members_born_on, shop_zone
from .clock import from_micros, to_micros, utcnow
from .codes import format_code
from .db import RowList, is_sqlite, read_lists, sql

UPCOMING_DAYS = 30
UPCOMING_LIMIT = 500
MONTHS = 12
# every birthday gift's source key sorts in [_FIRST, _AFTER): ';' follows ':' in ASCII
_FIRST, _AFTER = "birthday:", "birthday;"


def _birthday_gifts(db) -> tuple[str, list]:
    """The WHERE term that picks the birthday vouchers, and its arguments.

    SQLite compares text byte by byte, so the source_key prefix range finds them through its
    unique index. PostgreSQL may sort text by language rules that skip punctuation (then the
    range would hold nothing): there the kind column says it.
    """
    if is_sqlite(db):
        return "source_key >= ? AND source_key < ?", [_FIRST, _AFTER]
    return "kind = 'birthday'", []


def _gift_state(redeemed_at, voided_at, valid_from, valid_until, now_us: int) -> str:
    if redeemed_at is not None:
        return "redeemed"
    if voided_at is not None:
        return "void"
    if now_us >= valid_until:
        return "expired"
    if now_us < valid_from:
        return "not_yet_valid"
    return "available"


def _next_birthdays(today: date, days: int) -> dict[tuple[int, int], date]:
    """(month, day) of birth → its next birthday on the shop's calendar within `days` days."""
    found: dict[tuple[int, int], date] = {}
    for offset in range(days):
        d = today + timedelta(days=offset)
        found.setdefault((d.month, d.day), d)
        if d.month == 2 and d.day == 28 and not calendar.isleap(d.year):  # 29 Feb babies
            found.setdefault((2, 29), d)
    return found


def upcoming_birthdays(
    now: datetime | None = None, days: int = UPCOMING_DAYS, limit: int = UPCOMING_LIMIT, box=None
) -> dict:
    """Members whose birthday falls today or in the next `days - 1` days, soonest first, with
    this birthday's gift if it is issued. Erased members are left out."""
    box = box or box_mod.current()
    now = now or utcnow()
    today = local_date(now, shop_zone(box))
    pairs = _next_birthdays(today, days)
    db = box.db
    rows = members_born_on(
        db, pairs, "m.id, m.name, m.birthday_month, m.birthday_day, m.birthday_year"
    )
    people = sorted(
        (pairs[(month, day)], (name or "").casefold(), member_id, name, year)
        for member_id, name, month, day, year in rows
    )
    shown = people[:limit]
    gifts = _gifts_by_key(db, [f"birthday:{p[2]}:{p[0].year}" for p in shown], to_micros(now))
    return {
        "from": today.isoformat(),
        "days": days,
        "total": len(people),
        "members": [
            {
                "member_id": member_id,
                "name": name,
                "date": when.isoformat(),
                "in_days": (when - today).days,
                "turns": when.year - year if year else None,
                "gift": gifts.get(f"birthday:{member_id}:{when.year}"),
            }
            for when, _sort, member_id, name, year in shown
        ],
    }


def _gifts_by_key(db, keys: list[str], now_us: int) -> dict[str, dict]:
    found = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for key, *rest in db.execute_sql(
            sql(
                "SELECT source_key, code, reward, valid_from, valid_until, redeemed_at, voided_at"
                f" FROM voucher WHERE source_key IN ({marks})",
                db,
            ),
            chunk,
        ):
            found[key] = _gift(*rest, now_us)
    return found


def _gift(code, reward, valid_from, valid_until, redeemed_at, voided_at, now_us) -> dict:
    return {
        "code": format_code(code),
        "reward": reward,
        "state": _gift_state(redeemed_at, voided_at, valid_from, valid_until, now_us),
        "valid_from": from_micros(valid_from),
        "valid_until": from_micros(valid_until),
        "redeemed_at": from_micros(redeemed_at),
    }


def _month_starts(today: date, months: int) -> list[date]:
    """The first days of the last `months` months, oldest first, and of the month after."""
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    starts.reverse()
    last = starts[-1]
    starts.append(date(last.year + last.month // 12, last.month % 12 + 1, 1))
    return starts


def monthly_gifts(now: datetime | None = None, months: int = MONTHS, box=None) -> list[dict]:
    """Birthday gifts issued, redeemed and expired per month of the shop's calendar, newest
    month first. A gift expires in the month its validity ended unused (void ones do not)."""
    box = box or box_mod.current()
    now = now or utcnow()
    zone = shop_zone(box)
    starts = _month_starts(local_date(now, zone), months)
    bounds = [to_micros(_local_midnight(d, zone)) for d in starts]
    db = box.db
    now_us = to_micros(now)

    def bucket(column: str) -> tuple[str, list[int]]:
        """The month (0 = oldest) a moment fell in, -1 outside the months or NULL."""
        cases = " ".join(f"WHEN {column} < ? THEN {i}" for i in range(months))
        return (
            f"CASE WHEN {column} IS NULL OR {column} < ? THEN -1 {cases} ELSE -1 END",
            [bounds[0], *bounds[1:]],
        )

    gifts, gifts_args = _birthday_gifts(db)
    issued, issued_args = bucket("issued_at")
    redeemed, redeemed_args = bucket("redeemed_at")
    ended, ended_args = bucket("valid_until")
    # one pass over the birthday gifts (the source_key index finds them), grouped by the month
    # of each event: a query per measure went through the issued_at index over every reward
    rows = db.execute_sql(
        sql(
            f"SELECT {issued}, {redeemed},"
            " CASE WHEN redeemed_at IS NOT NULL OR voided_at IS NOT NULL OR valid_until > ?"
            f" THEN -1 ELSE {ended} END, COUNT(*) FROM voucher"
            f" WHERE {gifts} AND valid_until >= ? GROUP BY 1, 2, 3",
            db,
        ),
        [*issued_args, *redeemed_args, now_us, *ended_args, *gifts_args, bounds[0]],
    ).fetchall()
    counts = {i: {"issued": 0, "redeemed": 0, "expired": 0} for i in range(-1, months)}
    for i, r, e, count in rows:
        counts[i]["issued"] += count
        counts[r]["redeemed"] += count
        counts[e]["expired"] += count
    return [{"month": f"{starts[i]:%Y-%m}", **counts[i]} for i in reversed(range(months))]


# the member's latest birthday gift, as member_birthday and the member page read it
LATEST_GIFT = RowList(
    ("code", "reward", "valid_from", "valid_until", "redeemed_at", "voided_at"),
    "FROM voucher WHERE member_id = ? AND kind = 'birthday'",
    (("valid_from", True),),
    limit=True,
)


def _has_birthday(member: dict) -> bool:
    return bool(member.get("birthday_month")) and not member.get("erased_at")


def member_birthday(member: dict, now: datetime | None = None, box=None) -> dict | None:
    """The birthday flag on a member's page: the next birthday, and the latest birthday gift
    (available, redeemed, expired, ...). None for a member without a birthday."""
    if not _has_birthday(member):
        return None
    box = box or box_mod.current()
    (gift,) = read_lists((LATEST_GIFT,), (member["id"], 1), box.db)
    return birthday_flag(member, gift[0] if gift else None, now, box)


def birthday_flag(member: dict, gift, now: datetime | None = None, box=None) -> dict | None:
    """member_birthday with the latest gift already read (LATEST_GIFT's values, or None)."""
    if not _has_birthday(member):
        return None
    box = box or box_mod.current()
    now = now or utcnow()
    today = local_date(now, shop_zone(box))
    month, day = member["birthday_month"], member["birthday_day"]
    upcoming = birthday_in(today.year, month, day)
    if upcoming < today:
        upcoming = birthday_in(today.year + 1, month, day)
    return {
        "next": upcoming.isoformat(),
        "in_days": (upcoming - today).days,
        "gift": _gift(*gift, to_micros(now)) if gift else None,
    }
