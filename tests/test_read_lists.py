"""appliance.db.read_lists: several queries' rows in one statement, in their stated order."""

from __future__ import annotations

from random import Random

import pytest

from appliance.db import RowList, read_lists, sql

TEXTS = ["plain", 'quote " and \\ backslash', "עברית", "多语言", "new\nline", "", None, "😀"]


@pytest.fixture
def table(box):
    db = box.db
    db.execute_sql(
        "CREATE TABLE rows_probe (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL,"
        " at BIGINT, label TEXT)"
    )
    rng = Random(7)
    ids = list(range(1, 201))
    rng.shuffle(ids)  # stored in no particular order of id or of at
    ats = [1_790_000_000_000_000 + rng.randrange(10**12) for _ in ids]
    with db.atomic():
        for n, (row_id, at) in enumerate(zip(ids, ats, strict=True)):
            db.execute_sql(
                sql("INSERT INTO rows_probe (id, owner, at, label) VALUES (?, ?, ?, ?)", db),
                (row_id, row_id % 3, at, TEXTS[n % len(TEXTS)]),
            )
    yield db
    db.execute_sql("DROP TABLE rows_probe")


def _expected(db, owner: int, order: str, limit: int | None = None) -> list[list]:
    text = f"SELECT at, label FROM rows_probe WHERE owner = ? ORDER BY {order}"
    params = [owner]
    if limit is not None:
        text += " LIMIT ?"
        params.append(limit)
    return [list(row) for row in db.execute_sql(sql(text, db), params).fetchall()]


NEWEST = RowList(("at", "label"), "FROM rows_probe WHERE owner = ?", (("at", True),), limit=True)
# ordered by a column it does not return
BY_ID = RowList(("at", "label"), "FROM rows_probe WHERE owner = ?", (("id", False),))
BY_LABEL_THEN_ID = RowList(
    ("at", "label"), "FROM rows_probe WHERE owner = ? AND label IS NOT NULL",
    (("label", False), ("id", True)),
)  # fmt: skip


def test_each_list_comes_in_its_order_with_its_limit(table):
    newest, by_id, by_label = read_lists((NEWEST, BY_ID, BY_LABEL_THEN_ID), (1, 15, 2, 0))
    assert newest == _expected(table, 1, "at DESC", 15)
    assert len(newest) == 15
    assert by_id == _expected(table, 2, "id")
    assert len(by_id) > 50
    assert by_label == [r for r in _expected(table, 0, "label, id DESC") if r[1] is not None]


def test_values_come_back_as_they_were_stored(table):
    (rows,) = read_lists((BY_ID,), (1,))
    stored = _expected(table, 1, "id")
    assert rows == stored
    labels = {label for _, label in rows}
    assert {"עברית", "多语言", 'quote " and \\ backslash', "new\nline", None, "😀"} <= labels
    assert all(isinstance(at, int) and at > 1_790_000_000_000_000 for at, _ in rows)


def test_no_rows_is_an_empty_list_and_parameters_go_to_their_parts(table):
    empty, newest, none_either = read_lists((BY_ID, NEWEST, BY_ID), (99, 2, 3, 77))
    assert empty == [] and none_either == []
    assert newest == _expected(table, 2, "at DESC", 3)


def test_the_member_page_reads_every_history_newest_first(box, app):
    from appliance.clock import from_micros
    from appliance.member_view import member_page
    from appliance.models import Member, Visit

    member = Member.create(name="Order", joined_at=from_micros(1_790_000_000_000_000))
    rng = Random(3)
    moments = [from_micros(1_790_000_000_000_000 + rng.randrange(10**11)) for _ in range(30)]
    for at in moments:
        Visit.create(member=member, at=at, stamps=1, source="nfc")
    page = member_page(member.id, history=25)
    shown = [v["at"] for v in page.visits]
    assert len(shown) == 25
    assert shown == sorted(shown, reverse=True)
    assert page.member["name"] == "Order"
    assert member_page(member.id + 1000) is None


def test_a_member_page_part_with_other_columns_than_its_rows_fails_loudly():
    # appliance.member_view._rows checks the column count once per part, not per row
    from appliance.member_view import _VISITS, _rows

    row = [1_790_000_000_000_000, 1, None, "nfc"]
    assert _rows([list(row)], _VISITS, ("at",))[0].at.year == 2026
    with pytest.raises(ValueError, match="3 values for 4 columns"):
        _rows([row[:3], row[:3]], _VISITS)


def test_the_member_page_and_search_give_moments_in_the_zone_asked(box, app):
    # the web asks for the page's zone: moments come made in it (when shows them as they are)
    from datetime import UTC
    from zoneinfo import ZoneInfo

    from appliance.clock import from_micros
    from appliance.member_view import member_page
    from appliance.models import Member, Visit
    from appliance.search import search_members

    zone = ZoneInfo("Asia/Almaty")
    at = from_micros(1_790_000_000_123_456)
    member = Member.create(name="Zoned", joined_at=at, last_visit_at=at)
    Visit.create(member=member, at=at, stamps=1, source="nfc")
    utc, local = member_page(member.id), member_page(member.id, zone=zone)
    assert utc.visits[0].at.tzinfo is UTC and local.visits[0].at.tzinfo is zone
    assert local.visits[0].at == utc.visits[0].at == at and local.member.joined_at == at
    found = search_members("Zoned", zone=zone).rows[0]
    assert found.last_visit_at == at and found.last_visit_at.tzinfo is zone
    assert search_members("Zoned").rows[0].last_visit_at.tzinfo is UTC
