"""Member search, detail and the owner's member actions, through the core and the pages."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from appliance.codes import format_code
from appliance.counter import handle
from appliance.member_rights import erase_member, export_member
from appliance.members import MemberError, add_member, merge_members, replace_card
from appliance.models import AuditLog, Card, Member, Visit, Voucher
from appliance.search import search_members
from appliance.voucher_admin import issue_manual_voucher, void_voucher
from appliance.vouchers import redeem_voucher

from .conftest import T0
from .test_web import csrf_token, log_in, make_app

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def owner(settings, init_info):
    client = make_app(settings).test_client()
    log_in(client, init_info["owner"]["password"])
    return client


@pytest.fixture
def shop(box):
    anna = add_member("Anna Berg", "anna@example.com", "+49 170 1234567", "03-14",
                      "04A23B4C5D6E7F", now=T0)  # fmt: skip
    bob = add_member("Bob", "bob@example.org", None, None, "04000000000001", now=T0)
    return anna, bob


def _ids(query):
    return [row.id for row in search_members(query).rows]


def test_search_finds_by_name_email_phone_card_code_and_uid(shop):
    anna, bob = shop
    assert _ids("anna") == [anna["id"]]
    assert _ids("ANNA b") == [anna["id"]]
    assert _ids("bob@ex") == [bob["id"]]
    assert _ids("+49 170") == [anna["id"]]
    assert _ids(anna["cards"][0]["code"].lower()) == [anna["id"]]
    assert _ids("04:a2:3b:4c:5d:6e:7f") == [anna["id"]]
    assert _ids("nobody") == []
    assert set(_ids("")) == {anna["id"], bob["id"]}


def test_search_pages_through_results(box):
    for i in range(7):
        add_member(f"Carla {i}", now=T0)
    first = search_members("carla", page=1, per_page=3)
    third = search_members("carla", page=3, per_page=3)
    assert [r.name for r in first.rows] == ["Carla 0", "Carla 1", "Carla 2"] and first.has_more
    assert [r.name for r in third.rows] == ["Carla 6"] and not third.has_more


def test_search_uses_indexes_not_a_scan_or_a_sort(shop):
    from appliance.db import database, lists_statement
    from appliance.search import matches_query

    for query in ("ann", "anna@ex", "+49 170", "04A23B4C5D6E7F", shop[0]["cards"][0]["code"]):
        lists, params = matches_query(query, 21)
        text = lists_statement(lists)
        plan = database.execute_sql("EXPLAIN QUERY PLAN " + text, params).fetchall()
        steps = [row[-1] for row in plan]
        # each kind of match is an index search; the only scans are of its own sorted rows
        searches = [s for s in steps if s.startswith("SEARCH")]
        assert len(searches) == len(lists) and all("USING" in s for s in searches), steps
        assert not any("TEMP B-TREE" in s for s in steps), (query, steps)
        scans = [s for s in steps if s.startswith("SCAN")]
        assert set(scans) <= {"SCAN q", "SCAN CONSTANT ROW"}, (query, steps)


def test_the_member_pages_history_is_read_from_one_visit_index_alone(shop):
    # schema 19: the visit list's columns are all in the index (no table read per visit),
    # and the three indexes it begins like are gone (one index written per stamp, not three)
    from appliance.db import database, is_sqlite, lists_statement
    from appliance.member_view import _VISITS

    if is_sqlite():  # SQLite's plan (PostgreSQL plans a seq scan on a table this small)
        plan = database.execute_sql(
            "EXPLAIN QUERY PLAN " + lists_statement((_VISITS,)), (shop[0]["id"], 20)
        ).fetchall()
        steps = [row[-1] for row in plan]
        assert any("COVERING INDEX visit_member_history (member_id=?)" in s for s in steps)
        assert not any("TEMP B-TREE" in s for s in steps), steps
        listed = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'visit'"
    else:
        listed = "SELECT indexname FROM pg_indexes WHERE tablename = 'visit'"
    indexes = {row[0] for row in database.execute_sql(listed)}
    assert "visit_member_history" in indexes
    replaced = {"visit_member_id", "visit_member_id_at", "visit_member_id_at_amount_cents"}
    assert not indexes & replaced
    # a member's visits still go with the member (the foreign key's cascade finds them)
    handle("04A23B4C5D6E7F", "test", now=T0)
    Member.delete_by_id(shop[0]["id"])
    assert not Visit.select().where(Visit.member == shop[0]["id"]).exists()


def test_a_lost_card_is_replaced_and_the_stamps_stay(shop):
    anna, _ = shop
    handle("04A23B4C5D6E7F", "test", stamps=4, now=T0)
    replace_card(anna["id"], "04AAAAAAAAAAAA", actor="owner", now=T0)
    lost = handle("04A23B4C5D6E7F", "test", now=T0 + timedelta(hours=2))
    assert lost.status == "refused" and lost.reason == "card_blocked"
    new = handle("04AAAAAAAAAAAA", "test", now=T0 + timedelta(hours=2))
    assert new.status == "stamped" and new.card["stamps"] == 5


def test_merging_moves_cards_visits_and_adds_counters(shop):
    anna, bob = shop
    handle("04A23B4C5D6E7F", "test", stamps=3, now=T0)
    handle("04000000000001", "test", stamps=2, now=T0)
    merge_members(anna["id"], bob["id"], actor="owner", now=T0)
    assert not Member.select().where(Member.id == bob["id"]).exists()
    kept = Member.get_by_id(anna["id"])
    assert kept.stamps == 5 and kept.visit_count == 2
    assert Card.select().where(Card.member == kept).count() == 2
    assert Visit.select().where(Visit.member == kept).count() == 2
    with pytest.raises(MemberError):
        merge_members(anna["id"], anna["id"], actor="owner")


def test_export_has_everything_and_erase_keeps_only_anonymous_counts(shop):
    anna, _ = shop
    handle("04A23B4C5D6E7F", "test", stamps=10, now=T0)
    data = export_member(anna["id"], actor="owner", now=T0)
    assert data["member"]["email"] == "anna@example.com"
    assert len(data["visits"]) == 1 and len(data["vouchers"]) == 1
    json.dumps(data)
    erase_member(anna["id"], actor="owner", now=T0)
    gone = Member.get_by_id(anna["id"])
    assert (gone.name, gone.email, gone.phone, gone.birthday_month) == ("", None, None, None)
    assert gone.visit_count == 1 and Visit.select().where(Visit.member == gone).count() == 1
    assert not Card.select().where(Card.member == gone).exists()
    assert "Anna" not in json.dumps(export_member(anna["id"], actor="owner"))
    actions = [a.action for a in AuditLog.select().order_by(AuditLog.id)]
    assert "member.export" in actions and "member.erase" in actions


def test_a_voucher_issued_by_hand_can_be_voided(shop):
    anna, _ = shop
    voucher = issue_manual_voucher(anna["id"], "Free cake", 30, actor="owner", now=T0)
    void_voucher(voucher["code"], actor="owner", now=T0 + timedelta(minutes=1))
    refused = redeem_voucher(voucher["code"], now=T0 + timedelta(minutes=2))
    assert refused.status == "refused"
    assert Voucher.get(Voucher.reward == "Free cake").voided_by == "owner"


def test_hostile_names_are_escaped_on_the_member_pages(owner, box):
    member = add_member(HOSTILE, now=T0)
    for url in ("/admin/members", f"/admin/members/{member['id']}", "/admin/members?q=%3Cscr"):
        text = owner.get(url).get_data(as_text=True)
        assert HOSTILE not in text and "&lt;script&gt;" in text, url


def test_member_detail_shows_cards_vouchers_and_history(owner, shop):
    anna, _ = shop
    handle("04A23B4C5D6E7F", "test", stamps=10, now=T0)
    text = owner.get(f"/admin/members/{anna['id']}").get_data(as_text=True)
    assert "Anna Berg" in text and "04A23B4C5D6E7F" in text and "Free coffee" in text


def test_the_owner_replaces_merges_exports_and_erases_from_the_pages(owner, shop):
    anna, bob = shop
    url = f"/admin/members/{anna['id']}"
    token = csrf_token(owner.get(url))
    owner.post(url + "/replace-card", data={"nfc_uid": "04BBBBBBBBBBBB", "csrf_token": token})
    assert Card.get(Card.nfc_uid == "04BBBBBBBBBBBB").member_id == anna["id"]
    owner.post(url + "/merge", data={"other_id": bob["id"], "csrf_token": token})
    assert not Member.select().where(Member.id == bob["id"]).exists()
    export = owner.get(url + "/export.json")
    assert export.is_json and export.get_json()["member"]["name"] == "Anna Berg"
    owner.post(url + "/vouchers", data={"reward": "Sorry cake", "days": 7, "csrf_token": token})
    code = Voucher.get(Voucher.reward == "Sorry cake").code
    assert "Sorry cake" in owner.get("/admin/vouchers").get_data(as_text=True)
    assert owner.get(f"/admin/vouchers/{code}/print").status_code == 200
    owner.post("/admin/vouchers/void", data={"code": format_code(code), "csrf_token": token})
    assert Voucher.get(Voucher.code == code).voided_at is not None
    owner.post(url + "/erase", data={"confirm": "erase", "csrf_token": token})
    assert Member.get_by_id(anna["id"]).erased_at is not None


def test_the_dashboard_counts_today_and_draws_charts(owner, shop):
    handle("04A23B4C5D6E7F", "test", stamps=10)
    text = owner.get("/admin").get_data(as_text=True)
    assert 'id="stat-visits"' in text and "<rect" in text
    from appliance.dashboard import build_dashboard

    board = build_dashboard()
    assert board.today("visits") == 1 and board.today("stamps") == 10
    assert board.today("rewards_unlocked") == 1 and board.active_today == 1


def test_the_program_page_saves_tiers(owner, box):
    token = csrf_token(owner.get("/admin/program"))
    owner.post("/admin/program", data={"tiers": "5:Cookie\n8:Coffee", "voucher_days": "60",
                                       "csrf_token": token})  # fmt: skip
    from appliance.program import load_program

    assert [t.reward for t in load_program().tiers] == ["Cookie", "Coffee"]


def test_the_member_page_shows_recent_history_and_older_on_request(shop, owner):
    anna, _ = shop
    for hour in range(25):  # one stamp an hour: beyond the cooldown
        handle("04A23B4C5D6E7F", "test", now=T0 + timedelta(hours=hour + 1))
    page = owner.get(f"/admin/members/{anna['id']}").get_data(as_text=True)
    assert page.count("<td>+1</td>") == 20
    assert f"/admin/members/{anna['id']}?history=100" in page
    older = owner.get(f"/admin/members/{anna['id']}?history=100").get_data(as_text=True)
    assert older.count("<td>+1</td>") == 25 and "history=500" not in older


def _actions(page: str) -> str:
    return page[page.index('<section class="actions">') : page.index("</section>")]


def test_the_cached_owner_actions_carry_each_pages_member_and_sessions_token(
    owner, shop, settings, init_info
):
    anna, bob = shop
    other = make_app(settings).test_client()  # a second session of the owner: its own token
    log_in(other, init_info["owner"]["password"])
    pages = {}
    for name, client in (("owner", owner), ("other", other)):
        for member in (anna, bob):
            page = client.get(f"/admin/members/{member['id']}").get_data(as_text=True)
            actions = _actions(page)
            assert "stand-in" not in page and "918273645546372819" not in page
            for path in ("replace-card", "vouchers", "merge", "export.json", "erase"):
                assert f'"/admin/members/{member["id"]}/{path}"' in actions, path
            # every form's token is this session's, the one the rest of the page carries
            tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', actions))
            assert tokens == {csrf_token(client.get("/admin/program"))}
            assert actions.count('name="csrf_token"') == actions.count("<form") == 4
            pages[name, member["id"]] = tokens
    assert pages["owner", anna["id"]] != pages["other", anna["id"]]
    # the block follows the page's language (?lang= stays with the session), and the English
    # one is still there for the owner's other session
    hebrew = owner.get(f"/admin/members/{anna['id']}?lang=he").get_data(as_text=True)
    assert "פעולות בעלים" in _actions(hebrew) and "Owner actions" not in hebrew
    english = other.get(f"/admin/members/{anna['id']}").get_data(as_text=True)
    assert "Owner actions" in _actions(english) and "פעולות בעלים" not in english
    # and the token the block carried is accepted
    token = next(iter(pages["other", bob["id"]]))
    other.post(f"/admin/members/{bob['id']}/vouchers",
               data={"reward": "Cached cake", "days": 7, "csrf_token": token})  # fmt: skip
    assert Voucher.get(Voucher.reward == "Cached cake").member_id == bob["id"]


def test_staff_and_erased_members_get_no_owner_actions(owner, shop, settings):
    from appliance.staff import create_staff

    anna, bob = shop
    assert 'class="actions"' in owner.get(f"/admin/members/{anna['id']}").get_data(as_text=True)
    create_staff("barista", "counter-pass-123", "staff", actor="owner")
    staff = make_app(settings).test_client()
    log_in(staff, "counter-pass-123", username="barista")
    page = staff.get(f"/admin/members/{anna['id']}").get_data(as_text=True)
    assert "Anna Berg" in page and 'class="actions"' not in page and "/erase" not in page
    erase_member(bob["id"], "owner")
    page = owner.get(f"/admin/members/{bob['id']}").get_data(as_text=True)
    assert 'class="actions"' not in page
