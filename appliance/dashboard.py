"""The owner's dashboard: today and the last 30 days, counted by SQL over indexed columns."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .clock import to_micros, utcnow
from .db import database, sql

DAY_US = 86_400 * 1_000_000

# one grouped query per table; `day` is the shop-local day number relative to `start`
_VISITS = (
    "SELECT (at - ?) / ? AS day, COUNT(*), COALESCE(SUM(stamps), 0) FROM visit"
    " WHERE at >= ? AND at < ? GROUP BY day"
)
_ISSUED = "SELECT (issued_at - ?) / ? AS day, COUNT(*) FROM voucher WHERE issued_at >= ? AND issued_at < ? GROUP BY day"  # noqa: E501
_REDEEMED = "SELECT (redeemed_at - ?) / ? AS day, COUNT(*) FROM voucher WHERE redeemed_at >= ? AND redeemed_at < ? GROUP BY day"  # noqa: E501
_JOINED = "SELECT (joined_at - ?) / ? AS day, COUNT(*) FROM member WHERE joined_at >= ? AND joined_at < ? GROUP BY day"  # noqa: E501
_ACTIVE = "SELECT COUNT(*) FROM member WHERE last_visit_at >= ?"
# two index-only counts: "erased_at IS NULL" would read all 100k rows
_MEMBERS = "SELECT COUNT(*) FROM member"
_ERASED = "SELECT COUNT(*) FROM member WHERE erased_at IS NOT NULL"

SERIES = ("visits", "stamps", "rewards_unlocked", "rewards_redeemed", "new_members")


@dataclass
class Dashboard:
    days: list  # the shop-local dates, oldest first (the last is today)
    series: dict = field(default_factory=dict)  # name -> list of counts per day
    active_today: int = 0
    active_30_days: int = 0
    members: int = 0

    def today(self, name: str) -> int:
        return self.series[name][-1]

    def total(self, name: str) -> int:
        return sum(self.series[name])


def _local_midnight(now: datetime, zone) -> datetime:
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _counts(start_us: int, end_us: int, days: int) -> dict[str, list[int]]:
    """Counts per day from start_us (day 0) for rows in [start_us, end_us)."""
    series = {name: [0] * days for name in SERIES}
    for query, names in (
        (_VISITS, ("visits", "stamps")),
        (_ISSUED, ("rewards_unlocked",)),
        (_REDEEMED, ("rewards_redeemed",)),
        (_JOINED, ("new_members",)),
    ):
        for day, *counts in database.execute_sql(sql(query), (start_us, DAY_US, start_us, end_us)):
            if 0 <= day < days:
                for name, count in zip(names, counts, strict=True):
                    series[name][int(day)] = int(count)
    return series


# past days hardly change (an import of old visits would): they are counted once per
# HISTORY_SECONDS per process; today is counted on every request
HISTORY_SECONDS = 300.0
_history: dict[tuple, tuple[float, dict]] = {}


def _past_days(start_us: int, today_us: int, days: int) -> dict[str, list[int]]:
    key = (getattr(database.obj, "database", None), start_us, today_us, days)
    cached = _history.get(key)
    if cached is None or cached[0] < time.monotonic():
        _history.clear()
        cached = (time.monotonic() + HISTORY_SECONDS, _counts(start_us, today_us, days))
        _history[key] = cached
    return cached[1]


def build_dashboard(now: datetime | None = None, zone=None, days: int = 30) -> Dashboard:
    """Counts per shop-local day for the last `days` days including today."""
    now = now or utcnow()
    today = _local_midnight(now, zone)
    start = today - timedelta(days=days - 1)
    # days are counted from `start` in steps of 24 h; a DST change shifts one boundary by
    # an hour on the two days a year it happens, which a chart of counts can live with
    start_us, today_us = to_micros(start), to_micros(today)
    end_us = to_micros(today + timedelta(days=1))
    past = _past_days(start_us, today_us, days)
    live = _counts(today_us, end_us, 1)
    series = {name: past[name][:-1] + live[name] for name in SERIES}
    board = Dashboard(days=[(start + timedelta(days=i)).date() for i in range(days)], series=series)
    one = lambda q, *p: database.execute_sql(sql(q), p).fetchone()[0]  # noqa: E731
    board.active_today = one(_ACTIVE, today_us)
    board.active_30_days = one(_ACTIVE, start_us)
    board.members = one(_MEMBERS) - one(_ERASED)
    return board


def bar_chart(values: list[int], width: int = 300, height: int = 60) -> dict:
    """Bar geometry for a small server-rendered SVG (no script, no CDN), in whole units."""
    top = max(values) or 1
    step = width // max(len(values), 1)
    bar = max(1, step * 4 // 5)
    bars = []
    for i, value in enumerate(values):
        h = value * (height - 2) // top
        bars.append({"x": i * step, "y": height - h, "w": bar, "h": h, "value": value})
    return {"width": width, "height": height, "bars": bars}
