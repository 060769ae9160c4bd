"""Segments against an independent brute-force oracle on generated shops (hypothesis).

The shop is built through the real counter (add_member, handle) in time order, so the member
counters the SQL relies on are the ones a real box keeps; the oracle only reads the generated
spec (join time, birthday, visits) and applies the issue's definitions in plain Python.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from appliance import box as box_mod
from appliance import segments
from appliance.counter import handle
from appliance.db import is_sqlite
from appliance.members import add_member
from appliance.program import Tier, set_program
from appliance.provision import init_box
from appliance.settings import load_settings

TIERS = (3, 5)  # a card of 5 with a small reward at 3: "next reward" is not always the last
STEP = timedelta(hours=6)  # visit, join and as-of times share a grid, so boundaries are hit
BASES = (
    datetime(2027, 12, 29, 12, tzinfo=UTC),  # the birthday window crosses the year end
    datetime(2028, 2, 26, 12, tzinfo=UTC),  # leap year: 29 February exists
    datetime(2027, 2, 26, 12, tzinfo=UTC),  # not a leap year: 29 Feb falls on the 28th
    datetime(2026, 6, 15, 12, tzinfo=UTC),
)
DAYS = (0, 1, 2, 7, 30)


@pytest.fixture(scope="module")
def shop():
    root = Path(
        tempfile.mkdtemp(prefix="sb-seg-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    )
    init_box(
        load_settings(environ={}, data_dir=root, timezone="UTC", stamp_cooldown_minutes=0),
        now=datetime(2025, 1, 1, tzinfo=UTC),
    )
    set_program([Tier(s, f"reward {s}") for s in TIERS], 90)
    yield box_mod.current()
    box_mod.stop()
    shutil.rmtree(root, ignore_errors=True)


def _reset(db):
    for table in ("counter_event", "outbox", "voucher", "visit", "card", "member"):
        db.execute_sql(f"DELETE FROM {table}")


visit = st.tuples(
    st.integers(-160, 8),  # 6-hour steps from the base: 40 days back to 2 days on
    st.integers(1, 3),  # stamps
    st.sampled_from([None, 0, 100, 250, 500]),  # few amounts: spend ties are common
)
member = st.fixed_dictionaries(
    {
        "join": st.integers(-170, 8),
        "birthday": st.one_of(
            st.none(),
            st.sampled_from([(12, 31), (1, 1), (1, 3), (2, 28), (2, 29), (3, 1), (12, 29)]),
            st.tuples(st.integers(1, 12), st.integers(1, 28)),
        ),
        "visits": st.lists(visit, max_size=6),
    }
)


def _build(box, base, people) -> list[int]:
    ids = []
    for n, person in enumerate(people):
        birthday = None
        if person["birthday"]:
            birthday = "{:02d}-{:02d}".format(*person["birthday"])
        m = add_member(
            f"m{n}", birthday=birthday, card_uid=f"04{n:012X}", now=base + person["join"] * STEP
        )
        ids.append(m["id"])
    taps = sorted(
        ((base + v[0] * STEP, n, v) for n, person in enumerate(people) for v in person["visits"]),
        key=lambda tap: tap[:2],
    )
    for at, n, (_, stamps, amount) in taps:
        result = handle(f"04{n:012X}", "test", stamps=stamps, now=at, amount_cents=amount)
        assert result.status == "stamped", result.message
    return ids


def _is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def oracle(kind, p, people, ids, base, as_of) -> set[int]:
    """The issue's definitions, member by member, from the generated data alone."""
    out = set()
    window = timedelta(days=p.get("days", 0))
    seen = {}
    for n, person in enumerate(people):
        seen[n] = sorted(
            (base + v[0] * STEP, v[1], v[2] or 0)
            for v in person["visits"]
            if base + v[0] * STEP <= as_of
        )
    if kind == "top-customers":
        spend = {}
        for n, vs in seen.items():
            recent = [v for v in vs if v[0] > as_of - window]
            if recent:
                spend[n] = (sum(v[2] for v in recent), len(recent))
        ranked = sorted(spend, key=lambda n: -spend[n][0])
        size = math.ceil(Fraction(str(p["percent"])) * len(ranked) / 100)
        if size:
            cut = spend[ranked[size - 1]][0]
            out = {n for n in ranked if spend[n][0] >= cut and spend[n][1] >= p["min_purchases"]}
        return {ids[n] for n in out}
    today = as_of.date()
    for n, person in enumerate(people):
        vs = seen[n]
        joined = base + person["join"] * STEP
        if kind == "new-joiners":
            hit = as_of - window < joined <= as_of
        elif kind in ("inactive", "defecting"):
            hit = bool(vs) and vs[-1][0] < as_of - window
        elif kind == "new-customers":
            hit = len(vs) == 1 and vs[0][0] > as_of - window
        elif kind == "close-to-reward":
            on_card = sum(v[1] for v in vs) % TIERS[-1]
            hit = min(t for t in TIERS if t > on_card) - on_card <= p["stamps"]
        elif kind == "birthday":
            hit = False
            if person["birthday"]:
                bm, bd = person["birthday"]
                for offset in range(p["days"]):
                    d = today + timedelta(days=offset)
                    if (d.month, d.day) == (bm, bd) or (
                        (bm, bd) == (2, 29) and (d.month, d.day) == (2, 28) and not _is_leap(d.year)
                    ):
                        hit = True
        else:
            raise AssertionError(kind)
        if hit:
            out.add(ids[n])
    return out


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    base=st.sampled_from(BASES),
    people=st.lists(member, max_size=8),
    as_of_step=st.integers(-40, 8),
    days=st.sampled_from(DAYS),
    stamps=st.integers(0, 4),
    percent=st.sampled_from(["10", "25", "50", "33.33", "100"]),
    min_purchases=st.integers(1, 3),
)
@example(  # the top set's last place is tied: both tied members are in
    base=BASES[3],
    people=[
        {"join": -10, "birthday": None, "visits": [(-4, 1, 500), (-3, 1, 0)]},
        {"join": -10, "birthday": None, "visits": [(-4, 1, 250), (-2, 1, 250)]},
        {"join": -10, "birthday": None, "visits": [(-4, 1, 100), (-1, 1, 0)]},
        {"join": -10, "birthday": None, "visits": [(-4, 1, 500)]},
    ],
    as_of_step=0,
    days=30,
    stamps=2,
    percent="25",
    min_purchases=2,
)
@example(  # 29 February in a non-leap year, across the year end
    base=BASES[2],
    people=[
        {"join": -10, "birthday": (2, 29), "visits": []},
        {"join": -10, "birthday": (3, 1), "visits": []},
    ],
    as_of_step=0,
    days=3,
    stamps=2,
    percent="10",
    min_purchases=1,
)
def test_every_segment_matches_the_brute_force_oracle(
    shop, base, people, as_of_step, days, stamps, percent, min_purchases
):
    _reset(shop.db)
    ids = _build(shop, base, people)
    as_of = base + as_of_step * STEP
    for kind in segments.KINDS:
        given = {
            "new-joiners": {"days": days},
            "close-to-reward": {"stamps": stamps},
            "inactive": {"days": days},
            "birthday": {"days": days},
            "new-customers": {"days": days},
            "top-customers": {
                "days": days,
                "percent": percent,
                "min_purchases": min_purchases,
            },
            "defecting": {"days": days},
        }[kind]
        seg = segments.resolve(kind, given, as_of, shop)
        got = {row[0] for row in segments.members(seg, shop)}
        assert got == oracle(kind, seg.params, people, ids, base, as_of), kind
        assert segments.count(seg, shop) == len(got)
        # the admin's sample: one pass for a costly kind, count then first rows otherwise
        total, first = segments.sample(seg, 3, shop)
        assert (total, [m["id"] for m in first]) == (len(got), sorted(got)[:3]), kind


def test_birthday_window_crosses_the_year_end_and_keeps_29_february():
    assert segments.birthday_days(date(2027, 12, 30), 4) == {12: [30, 31], 1: [1, 2]}
    assert segments.birthday_days(date(2027, 2, 27), 2) == {2: [27, 28, 29]}
    assert segments.birthday_days(date(2028, 2, 28), 1) == {2: [28]}
    assert segments.birthday_days(date(2028, 2, 28), 0) == {}


def test_bad_parameters_are_refused_with_a_sentence():
    with pytest.raises(segments.SegmentError, match="days"):
        segments.parse_params("inactive", {"days": "soon"})
    with pytest.raises(segments.SegmentError, match="no parameter"):
        segments.parse_params("inactive", {"stamps": "2"})
    with pytest.raises(segments.SegmentError, match="percent"):
        segments.parse_params("top-customers", {"percent": "0"})


def test_cli_prints_the_segment_and_saves_one_under_the_owners_name(init_info, stampbox):
    add_member("Anna", card_uid="04A23B4C5D6E7F", now=datetime(2026, 9, 1, tzinfo=UTC))
    handle("04A23B4C5D6E7F", "t", now=datetime(2026, 9, 1, 10, tzinfo=UTC))
    box_mod.stop()
    out = stampbox("segment", "inactive", "--as-of", "2026-11-01T00:00:00Z", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["segment"] == "inactive" and data["as_of"] == "2026-11-01T00:00:00Z"
    assert data["count"] == 1 and data["members"] == [{"id": 1, "external_id": None}]
    # as of the day after the visit, Anna is not inactive yet: later visits are ignored
    out = stampbox("segment", "inactive", "--as-of", "2026-09-02T00:00:00", "--json")
    assert json.loads(out.stdout)["count"] == 0
    out = stampbox("segment", "inactive", "--param", "days=45", "--save-as", "lapsed", "--json")
    assert out.returncode == 0, out.stderr
    out = stampbox("segment", "lapsed", "--as-of", "2026-10-20T00:00:00Z", "--json")
    assert json.loads(out.stdout)["count"] == 1 and json.loads(out.stdout)["params"] == {"days": 45}
    out = stampbox("segment", "inactive", "--param", "days=x", "--json")
    assert out.returncode == 2 and "whole number" in out.stderr


def test_top_customers_reads_visits_in_member_order_without_sorting_them(box):
    # the plan, not a time: through visit_at the window's visits were sorted by member in a
    # temporary B-tree, whose cost grew ~20x for 10x the visits (bench/README.md)
    if not is_sqlite(box.db):
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's: the box's database (PostgreSQL plans its own)")
    seg = segments.resolve("top-customers", None, datetime(2026, 6, 15, 12, tzinfo=UTC), box)
    text, args = seg.predicate(box)
    plan = [
        row[3]
        for row in box.db.execute_sql(
            f"EXPLAIN QUERY PLAN SELECT m.id FROM member m WHERE {text}", args
        ).fetchall()
    ]
    assert any("COVERING INDEX visit_member_history" in step for step in plan), plan
    assert not any("TEMP B-TREE FOR GROUP BY" in step for step in plan), plan
