"""Chain mode, box side: every stamp and redemption leaves one event row in its transaction."""

import json
from datetime import timedelta

import pytest

from appliance import box as box_mod
from appliance.chain import EVENT_SCHEMA, box_id
from appliance.clock import to_micros, utcnow
from appliance.counter import handle
from appliance.db import is_sqlite, sql
from appliance.members import add_member
from appliance.models import Event, ShopSetting, Visit
from appliance.vouchers import redeem_voucher

from .conftest import T0

UID = "04A23B4C5D6E7F"


@pytest.fixture
def anna(box):
    return add_member("Anna", card_uid=UID, now=T0)


def _events(type_=None):
    """The stamp and redemption events (or those of one type)."""
    query = Event.select().order_by(Event.id)
    if type_:
        query = query.where(Event.type == type_)
    else:
        query = query.where(Event.type.in_(("stamp", "redeem")))
    return list(query)


def test_a_stamp_writes_one_unsent_event_with_the_visit(anna, box):
    result = handle(UID, "till", now=T0, amount_cents=450)
    assert result.status == "stamped"
    [event] = _events()
    assert event.type == "stamp" and event.sent_at is None
    assert event.schema_version == EVENT_SCHEMA
    assert event.box_id == box_id(box.db) == ShopSetting.get_by_id("box_id").value
    assert len(event.uuid) == 36 and event.created_at == to_micros(T0)
    payload = json.loads(event.payload)
    assert payload == {
        "card": anna["cards"][0]["code"].replace("-", ""),
        "nfc_uid": UID,
        "member": {"id": anna["id"], "external_id": None, "name": "Anna"},
        "at": to_micros(T0),
        "stamps": 1,
        "amount_cents": 450,
        "source": "till",
        "clock_synced": True,
        "vouchers": [],
    }


def test_taps_that_change_nothing_write_no_event(anna):
    handle(UID, "t", now=T0)
    assert handle(UID, "t", now=T0 + timedelta(minutes=5)).status == "cooldown"
    assert handle("04FFFFFFFFFF01", "t", now=T0).status == "unknown_card"
    assert handle("hello world", "t", now=T0).status == "refused"
    assert len(_events()) == Visit.select().count() == 1


def test_a_full_card_carries_its_new_voucher_in_the_same_single_event(anna):
    result = handle(UID, "t", stamps=10, now=T0)
    [voucher] = result.unlocked
    [event] = _events()
    [sent] = json.loads(event.payload)["vouchers"]
    assert sent["code"] == voucher["code"].replace("-", "")
    assert sent["kind"] == "tier" and sent["reward"] == voucher["reward"]
    assert sent["valid_until"] - sent["valid_from"] == 90 * 86_400_000_000


def test_a_redemption_writes_one_event_and_a_refusal_none(anna):
    code = handle(UID, "t", stamps=10, now=T0).unlocked[0]["code"]
    at = T0 + timedelta(hours=1)
    assert redeem_voucher(code, now=at, by="anna-staff").status == "redeemed"
    assert redeem_voucher(code, now=at).status == "refused"
    [event] = _events("redeem")
    assert json.loads(event.payload) == {
        "voucher": code.replace("-", ""),
        "member": {"id": anna["id"], "external_id": None},
        "at": to_micros(at),
        "by": "anna-staff",
        "source": "counter",
        "provisional": False,
    }
    assert len(_events()) == 2


def test_the_event_is_rolled_back_with_its_tap(anna, box):
    with pytest.raises(RuntimeError):
        with box.db.atomic():
            assert handle(UID, "t", now=T0).status == "stamped"
            raise RuntimeError("power cut before the commit")
    assert _events() == [] and Visit.select().count() == 0


def test_every_event_has_its_own_uuid_and_the_box_id_survives_a_restart(anna, box):
    for i in range(5):
        handle(UID, "t", now=T0 + timedelta(hours=i))
    first = box_id(box.db)
    settings = box.settings
    box_mod.stop()
    again = box_mod.start(settings)
    assert box_id(again.db) == first
    assert len({e.uuid for e in _events()}) == 5


def test_enrolment_and_member_changes_write_events_and_a_tap_does_not(anna, box):
    from appliance.models import Card, Member

    if not is_sqlite(box.db):
        pytest.skip("boxes are SQLite: the member triggers exist there only")

    [member] = _events("member")
    [card] = _events("card")
    body = json.loads(member.payload)["member"]
    assert body["id"] == anna["id"] and body["name"] == "Anna" and len(member.uuid) == 36
    assert json.loads(card.payload)["nfc_uid"] == UID and card.box_id == box_id(box.db)
    assert abs(member.created_at - to_micros(utcnow())) < 60_000_000
    handle(UID, "t", now=T0)
    assert len(_events("member")) == 1  # the tap's counters are not a member change
    Member.update(email="anna@example.com").where(Member.id == anna["id"]).execute()
    changed = json.loads(_events("member")[-1].payload)["member"]
    assert changed["email"] == "anna@example.com"
    Card.update(blocked_at=T0).where(Card.nfc_uid == UID).execute()
    assert json.loads(_events("card")[-1].payload)["blocked_at"] == to_micros(T0)


def test_rows_the_chain_mirror_made_send_no_events(box):
    from appliance.models import Card, Member

    made = Member.insert(name="From B", joined_at=T0, consent_source="chain").execute()
    Card.insert(member=made, code="CXXXXXXX", label="chain", created_at=T0).execute()
    assert list(Event.select()) == []


def test_pruning_deletes_old_sent_events_and_never_unsent_ones(anna, box):
    from appliance.chain.relay import Relay

    for i in range(4):
        handle(UID, "t", now=T0 + timedelta(hours=i))
    relay = Relay(box.db, "nats://127.0.0.1:1")  # pruning needs no server
    ids = [e.id for e in _events()]
    enrolment = Event.select().where(Event.type.in_(("member", "card"))).count()
    relay.mark(ids[:3], now=T0)  # sent on day 0; the last one and the enrolment unsent
    assert relay.prune(now=T0 + timedelta(days=13)) == 0
    assert relay.prune(now=T0 + timedelta(days=15)) == 3
    left = Event.select().where(Event.sent_at.is_null()).count()
    assert Event.select().count() == left == 1 + enrolment
    relay.shutdown()


def test_a_box_that_cannot_reach_the_centre_redeems_provisionally(anna, box, settings):
    import dataclasses

    from tests.pg.cluster import free_port

    code = handle(UID, "t", stamps=10, now=T0).unlocked[0]["code"]
    offline = dataclasses.replace(
        box, settings=dataclasses.replace(
            settings, chain_nats_url=f"nats://127.0.0.1:{free_port()}", chain_claim_timeout_ms=200
        )
    )  # fmt: skip
    assert redeem_voucher(code, now=T0 + timedelta(hours=1), box=offline).status == "redeemed"
    [event] = _events("redeem")
    assert json.loads(event.payload)["provisional"] is True
    row = box.db.execute_sql(
        sql("SELECT chain_state, chain_event FROM voucher WHERE code = ?", box.db),
        (code.replace("-", ""),),
    ).fetchone()
    assert row == ("provisional", event.uuid)


def test_a_box_in_no_chain_drops_event_rows_after_two_weeks(anna, box):
    from appliance.chain.events import prune_unchained

    for i in range(3):
        handle(UID, "t", now=T0 + timedelta(days=i))
    cutoff = to_micros(T0 + timedelta(days=1))
    old = Event.select().where(Event.created_at < cutoff).count()
    assert old >= 1  # the tap at T0 (the enrolment's rows carry the real clock)
    assert prune_unchained(box.db, to_micros(T0 + timedelta(days=15))) == old
    assert Event.select().where(Event.created_at < cutoff).count() == 0
    assert Event.select().where(Event.type == "stamp").count() == 2
