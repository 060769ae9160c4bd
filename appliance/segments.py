"""Segments: who a campaign or automation is for, as one SQL query each (never a Python loop).

A segment is evaluated *as of* a moment A (default now); visits after A are ignored. "Within
the last N days" means after A - N x 24 h (and not after A); "more than N days ago" means
before A - N x 24 h. A purchase is a visit; spend sums the visits' amounts (none counts 0).

Speed comes from the member counters the tap keeps (visit_count, first/last_visit_at,
stamps): a member whose last visit is not after A is answered from them with index range
scans. Only members with visits after A (an as-of in the past) are looked up in the visit
table, so "now" pays nothing for that branch (an empty range on member.last_visit_at).

Every builder returns (sql, args): a condition on `member m` with ? placeholders; callers
put it in their own query (count, list, or INSERT ... SELECT into the outbox).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from . import box as box_mod
from .clock import iso, to_micros, utcnow
from .db import sql
from .program import load_program
from .refusal import N_, Refusal

DAY_US = 86_400_000_000
_NONE = "1 = 0"


class SegmentError(Refusal):
    """An unknown segment or a bad parameter: the message says which."""


def _int_param(low: int, high: int):
    def parse(name: str, raw) -> int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise SegmentError(
                N_("%(name)s must be a whole number, not %(raw)r."), name=name, raw=raw
            ) from None
        if not low <= value <= high:
            raise SegmentError(
                N_("%(name)s must be between %(low)s and %(high)s."), name=name, low=low, high=high
            )
        return value

    return parse


def _percent(name: str, raw) -> Decimal:
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise SegmentError(
            N_("%(name)s must be a number like 10 or 2.5, not %(raw)r."), name=name, raw=raw
        ) from None
    # hundredths of a percent keep the top-set size exact integer arithmetic in SQL
    if not Decimal(0) < value <= Decimal(100) or value != value.quantize(Decimal("0.01")):
        raise SegmentError(
            N_("%(name)s must be above 0 and at most 100, in steps of 0.01."), name=name
        )
    return value


_DAYS = _int_param(0, 3650)


@dataclass(frozen=True)
class Kind:
    name: str
    help: str
    defaults: dict
    parsers: dict = field(default_factory=dict)
    # evaluating it costs more than reading its rows (a ranking over the visits of the
    # window): the admin counts it in one pass and fetches its count apart from the page
    costly: bool = False


KINDS = {
    k.name: k
    for k in (
        Kind("new-joiners", "joined within the last `days` days", {"days": 30}, {"days": _DAYS}),
        Kind(
            "close-to-reward",
            "the current card lacks at most `stamps` stamps to the next reward",
            {"stamps": 2},
            {"stamps": _int_param(0, 1000)},
        ),
        Kind(
            "inactive",
            "has visited, last visit more than `days` days ago",
            {"days": 30},
            {"days": _DAYS},
        ),
        Kind(
            "birthday",
            "birthday within the next `days` days, today included",
            {"days": 7},
            {"days": _int_param(0, 366)},
        ),
        Kind(
            "new-customers",
            "exactly one purchase ever, within the last `days` days",
            {"days": 30},
            {"days": _DAYS},
        ),
        Kind(
            "top-customers",
            "top `percent` % by spend over `days` days (ties included), "
            "with at least `min_purchases` purchases",
            {"days": 365, "percent": Decimal(10), "min_purchases": 2},
            {"days": _DAYS, "percent": _percent, "min_purchases": _int_param(1, 100_000)},
            costly=True,
        ),
        Kind(
            "defecting",
            "has purchased, last purchase more than `days` days ago",
            {"days": 90},
            {"days": _DAYS},
        ),
    )
}


def parse_params(kind: str, given: dict | None) -> dict:
    """The kind's defaults overlaid with `given` (strings or numbers), checked."""
    spec = KINDS.get(kind)
    if spec is None:
        raise SegmentError(
            N_("Unknown segment %(name)r; known: %(known)s."), name=kind, known=", ".join(KINDS)
        )
    params = dict(spec.defaults)
    for key, raw in (given or {}).items():
        if key not in spec.parsers:
            raise SegmentError(
                N_("Segment %(kind)s has no parameter %(key)r; it takes %(known)s."),
                kind=kind,
                key=key,
                known=", ".join(spec.defaults),
            )
        params[key] = spec.parsers[key](key, raw)
    return params


def params_json(params: dict) -> dict:
    """Parameters as JSON-friendly values (Decimal percent → int or float)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral() else float(value)
        out[key] = value
    return out


# -- the queries: each a predicate over `member m` ------------------------------------------
# A predicate (not an id list) lets every caller read member rows once: the CLI's list, a
# count, a campaign's INSERT ... SELECT. SQLite answers "a OR b" on one indexed column with
# two index range scans, so the visit-table branch costs nothing when A is now.


def _lapsed(a: int, days: int):
    """Visited, and the last visit up to A is before A - days."""
    w = a - days * DAY_US
    return (
        "(m.last_visit_at < ? OR (m.last_visit_at > ?"
        " AND EXISTS (SELECT 1 FROM visit v WHERE v.member_id = m.id AND v.at < ?)"
        " AND NOT EXISTS (SELECT 1 FROM visit v WHERE v.member_id = m.id"
        " AND v.at >= ? AND v.at <= ?)))",
        [w, a, w, w, a],
    )


def _new_joiners(a, p, **_):
    return "(m.joined_at > ? AND m.joined_at <= ?)", [a - p["days"] * DAY_US, a]


def _new_customers(a, p, **_):
    w = a - p["days"] * DAY_US
    return (
        "((m.last_visit_at > ? AND m.last_visit_at <= ? AND m.visit_count = 1)"
        " OR (m.last_visit_at > ?"
        " AND (SELECT COUNT(*) FROM visit v WHERE v.member_id = m.id AND v.at <= ?) = 1"
        " AND EXISTS (SELECT 1 FROM visit v WHERE v.member_id = m.id"
        " AND v.at > ? AND v.at <= ?)))",
        [w, a, a, a, w, a],
    )


def close_stamp_values(tiers, lacking: int) -> list[int]:
    """Stamp counts on a card that lack at most `lacking` stamps to the next tier."""
    needed = tiers[-1].stamps
    values = []
    for s in range(needed):
        nxt = min(t.stamps for t in tiers if t.stamps > s)
        if nxt - s <= lacking:
            values.append(s)
    return values


def _close_to_reward(a, p, db, **_):
    program = load_program(db)
    values = close_stamp_values(program.tiers, p["stamps"]) if program else []
    if not values:
        return _NONE, []
    marks = ", ".join("?" * len(values))
    n = program.stamps_needed
    # a card's stamps at A: today's stamps minus those added after A, modulo a full card
    # (advance() empties the card when it reaches the last tier). COALESCE keeps the planner
    # on one table scan rather than walking the whole last-visit index.
    return (
        f"((m.stamps IN ({marks}) AND COALESCE(m.last_visit_at, 0) <= ?)"
        f" OR (m.last_visit_at > ? AND ((m.stamps - (SELECT SUM(v.stamps) FROM visit v"
        f" WHERE v.member_id = m.id AND v.at > ?)) % {n} + {n}) % {n} IN ({marks})))",
        [*values, a, a, a, *values],
    )


def birthday_days(today: date, days: int) -> dict[int, list[int]]:
    """month → days of month whose birthday falls in [today, today + days)."""
    wanted: dict[int, set[int]] = {}
    for offset in range(days):
        d = today + timedelta(days=offset)
        wanted.setdefault(d.month, set()).add(d.day)
        leap = d.year % 4 == 0 and (d.year % 100 != 0 or d.year % 400 == 0)
        if d.month == 2 and d.day == 28 and not leap:
            wanted[2].add(29)  # a 29 February birthday is kept on the 28th in other years
    return {m: sorted(ds) for m, ds in sorted(wanted.items())}


def _birthday(a, p, today, **_):
    wanted = birthday_days(today, p["days"])
    if not wanted:
        return _NONE, []
    parts, args = [], []
    for month, days in wanted.items():
        parts.append(f"(m.birthday_month = ? AND m.birthday_day IN ({', '.join('?' * len(days))}))")
        args += [month, *days]
    return "(" + " OR ".join(parts) + ")", args


def _top_customers(a, p, **_):
    w = a - p["days"] * DAY_US
    basis_points = int(p["percent"] * 100)
    # RANK() is 1 + the number of members with strictly more spend: a member is in the top
    # set (the first ceil(percent% of |S|), ties with the last included) iff rank <= that size.
    # `+at` keeps SQLite off visit_at (a window's visits sorted by member in a temporary
    # B-tree, which outgrows the page cache: cost grew ~20x for 10x the data) and on the
    # covering index visit (member_id, at, amount_cents, …) of schemas 18 and 19: visits read
    # in member order, no sort (bench/README.md). PostgreSQL reads `+at` as at.
    return (
        "m.id IN (SELECT member_id FROM (SELECT member_id, n,"
        " RANK() OVER (ORDER BY spend DESC) AS rk, COUNT(*) OVER () AS total FROM"
        " (SELECT member_id, SUM(COALESCE(amount_cents, 0)) AS spend, COUNT(*) AS n FROM visit"
        " WHERE +at > ? AND +at <= ? GROUP BY member_id) s) r"
        " WHERE rk <= (total * ? + 9999) / 10000 AND n >= ?)",
        [w, a, basis_points, p["min_purchases"]],
    )


_BUILDERS = {
    "new-joiners": _new_joiners,
    "close-to-reward": _close_to_reward,
    "inactive": lambda a, p, **_: _lapsed(a, p["days"]),
    "birthday": _birthday,
    "new-customers": _new_customers,
    "top-customers": _top_customers,
    "defecting": lambda a, p, **_: _lapsed(a, p["days"]),
}


@dataclass(frozen=True)
class Segment:
    """A resolved segment: its kind, checked parameters and the moment it is evaluated at."""

    name: str
    kind: str
    params: dict
    as_of: datetime
    zone: object = None  # the shop's zone for "today" (birthdays); None: shop_zone(box)

    def predicate(self, box) -> tuple[str, list]:
        """(SQL condition on `member m`, args), placeholders converted for the database."""
        db = box.db
        # only birthdays depend on the calendar day: the others skip the zone's lookup
        zone = self.zone or (shop_zone(box) if self.kind == "birthday" else box.zone)
        today = self.as_of.astimezone(zone).date()
        text, args = _BUILDERS[self.kind](to_micros(self.as_of), self.params, db=db, today=today)
        return sql(text, db), args

    def query(self, box) -> tuple[str, list]:
        """(SQL selecting the members' ids, args)."""
        text, args = self.predicate(box)
        return f"SELECT m.id FROM member m WHERE {text}", args


def shop_zone(box):
    """The shop's time zone: the owner's setting in the admin, else the box's."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    row = box.db.execute_sql(
        sql("SELECT value FROM shop_setting WHERE key = ?", box.db), ("timezone",)
    ).fetchone()
    if row and row[0]:
        try:
            return ZoneInfo(row[0])
        except (ZoneInfoNotFoundError, ValueError):
            pass  # the admin refuses a bad zone; an old row must not break segments
    return box.zone


def resolve(
    name: str, given: dict | None = None, as_of: datetime | None = None, box=None
) -> Segment:
    """A built-in kind or a saved segment by name; `given` overrides saved parameters."""
    box = box or box_mod.current()
    as_of = as_of or utcnow()
    if name in KINDS:
        return Segment(name, name, parse_params(name, given), as_of)
    row = box.db.execute_sql(
        sql("SELECT kind, params FROM segment WHERE name = ?", box.db), (name,)
    ).fetchone()
    if row is None:
        raise SegmentError(
            N_("Unknown segment %(name)r; built in: %(known)s; saved: %(saved)s."),
            name=name,
            known=", ".join(KINDS),
            saved=", ".join(saved_names(box)) or "-",
        )
    merged = {**json.loads(row[1]), **(given or {})}
    return Segment(name, row[0], parse_params(row[0], merged), as_of)


def members(segment: Segment, box=None) -> list[tuple[int, str | None]]:
    """(id, external_id) of every member in the segment, by id."""
    box = box or box_mod.current()
    text, args = segment.predicate(box)
    rows = box.db.execute_sql(
        f"SELECT m.id, m.external_id FROM member m WHERE {text}", args
    ).fetchall()
    rows.sort()  # in Python: an ORDER BY would sort after an index scan anyway
    return rows


def sample(segment: Segment, limit: int = 20, box=None) -> tuple[int, list[dict]]:
    """(how many members, the first `limit` by id with their names), for the admin.

    Two queries, not one with COUNT(*) OVER (): that would read and sort every member's row
    (inactive at 100,000 members: 170 ms against 21 ms for the count and the first 20), but
    one for a costly kind, whose evaluation costs more than its few rows.
    """
    box = box or box_mod.current()
    text, args = segment.predicate(box)
    if KINDS[segment.kind].costly:
        # one evaluation: COUNT(*) OVER () is taken before the LIMIT (a costly segment is
        # small: the top few percent)
        rows = box.db.execute_sql(
            f"SELECT m.id, m.external_id, m.name, COUNT(*) OVER () FROM member m WHERE {text}"
            f" ORDER BY m.id LIMIT {int(limit)}",
            args,
        ).fetchall()
        return (rows[0][3] if rows else 0), [
            {"id": r[0], "external_id": r[1], "name": r[2]} for r in rows
        ]
    total = count(segment, box)
    if not total:
        return 0, []
    rows = box.db.execute_sql(
        f"SELECT m.id, m.external_id, m.name FROM member m WHERE {text}"
        f" ORDER BY m.id LIMIT {int(limit)}",
        args,
    ).fetchall()
    return total, [{"id": r[0], "external_id": r[1], "name": r[2]} for r in rows]


def count(segment: Segment, box=None) -> int:
    box = box or box_mod.current()
    text, args = segment.predicate(box)
    return box.db.execute_sql(f"SELECT COUNT(*) FROM member m WHERE {text}", args).fetchone()[0]


def evaluate(segment: Segment, box=None) -> dict:
    """The CLI's and the admin's answer: {"segment", "as_of", "count", "members"}."""
    rows = members(segment, box)
    return {
        "segment": segment.name,
        "as_of": iso(segment.as_of),
        "params": params_json(segment.params),
        "count": len(rows),
        "members": [{"id": r[0], "external_id": r[1]} for r in rows],
    }


def save_segment(
    name: str, kind: str, given: dict | None, now=None, box=None, actor: str = "owner"
) -> dict:
    """Save (or replace) a segment with chosen parameters under the owner's own name."""
    from .audit import audit

    box = box or box_mod.current()
    name = " ".join(str(name).split())
    if not name or len(name) > 60:
        raise SegmentError(N_("A segment name needs 1 to 60 characters."))
    if "/" in name:  # the name is part of the admin's addresses
        raise SegmentError(N_("A segment name cannot contain a slash (/)."))
    if name in KINDS:
        raise SegmentError(N_("%(name)r is a built-in segment; choose another name."), name=name)
    params = params_json(parse_params(kind, given))
    now = now or utcnow()
    db = box.db
    with db.atomic():
        done = db.execute_sql(
            sql("UPDATE segment SET kind = ?, params = ? WHERE name = ?", db),
            (kind, json.dumps(params), name),
        ).rowcount
        if not done:
            db.execute_sql(
                sql("INSERT INTO segment (name, kind, params, created_at) VALUES (?, ?, ?, ?)", db),
                (name, kind, json.dumps(params), to_micros(now)),
            )
        audit(actor, "segment.save", now, name=name, kind=kind, params=params)
    return {"name": name, "kind": kind, "params": params}


def saved_names(box=None) -> list[str]:
    box = box or box_mod.current()
    return [r[0] for r in box.db.execute_sql("SELECT name FROM segment ORDER BY name").fetchall()]


def saved_segments(box=None) -> list[dict]:
    """Every saved segment: {"name", "kind", "params"}, by name."""
    box = box or box_mod.current()
    return [
        {"name": n, "kind": k, "params": json.loads(p)}
        for n, k, p in box.db.execute_sql(
            "SELECT name, kind, params FROM segment ORDER BY name"
        ).fetchall()
    ]


def delete_segment(name: str, now=None, box=None, actor: str = "owner") -> bool:
    """Forget a saved segment (campaigns already queued keep their recipients)."""
    from .audit import audit

    box = box or box_mod.current()
    db = box.db
    with db.atomic():
        gone = db.execute_sql(sql("DELETE FROM segment WHERE name = ?", db), (name,)).rowcount
        if gone:
            audit(actor, "segment.delete", now or utcnow(), name=name)
    return bool(gone)
