"""The owner's dashboard: today and the last 30 days, counted by SQL over indexed columns."""

from __future__ import annotations

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
_MEMBERS = "SELECT COUNT(*) FROM member WHERE erased_at IS NULL"

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


def build_dashboard(now: datetime | None = None, zone=None, days: int = 30) -> Dashboard:
    """Counts per shop-local day for the last `days` days including today."""
    now = now or utcnow()
    today = _local_midnight(now, zone)
    start = today - timedelta(days=days - 1)
    # days are counted from `start` in steps of 24 h; a DST change shifts one boundary by
    # an hour on the two days a year it happens, which a chart of counts can live with
    start_us, end_us = to_micros(start), to_micros(today + timedelta(days=1))
    dates = [(start + timedelta(days=i)).date() for i in range(days)]
    board = Dashboard(days=dates, series={name: [0] * days for name in SERIES})

    def fill(query: str, *names: str) -> None:
        rows = database.execute_sql(sql(query), (start_us, DAY_US, start_us, end_us))
        for day, *counts in rows:
            if 0 <= day < days:
                for name, count in zip(names, counts, strict=True):
                    board.series[name][int(day)] = int(count)

    fill(_VISITS, "visits", "stamps")
    fill(_ISSUED, "rewards_unlocked")
    fill(_REDEEMED, "rewards_redeemed")
    fill(_JOINED, "new_members")
    one = lambda q, *p: database.execute_sql(sql(q), p).fetchone()[0]  # noqa: E731
    board.active_today = one(_ACTIVE, to_micros(today))
    board.active_30_days = one(_ACTIVE, start_us)
    board.members = one(_MEMBERS)
    return board


def bar_chart(values: list[int], width: int = 300, height: int = 60) -> dict:
    """Bar geometry for a small server-rendered SVG (no script, no CDN)."""
    top = max(values) or 1
    step = width / max(len(values), 1)
    bars = []
    for i, value in enumerate(values):
        h = round(value / top * (height - 2), 1)
        bars.append({"x": round(i * step, 1), "y": round(height - h, 1), "w": round(step * 0.8, 1),
                     "h": h, "value": value})  # fmt: skip
    return {"width": width, "height": height, "bars": bars}
