"""Chain mode, box side: erasing a member blanks them in the box's event log, sent or not, and
tells the centre (an 'erase' event), while their visits stay counted."""

import json
from datetime import timedelta

from appliance.chain import box_id
from appliance.chain.mirror import apply_state
from appliance.clock import to_micros
from appliance.counter import handle
from appliance.member_rights import erase_member
from appliance.members import add_member, merge_members
from appliance.models import Card, Event, Member

from .conftest import T0

UID = "04A23B4C5D6E7F"


def _payloads(member_id):
    rows = Event.select().order_by(Event.id)
    return [(e.type, json.loads(e.payload), e.sent_at) for e in rows]


def test_erasure_blanks_the_member_in_sent_and_unsent_events_and_writes_an_erase_event(box):
    anna = add_member(
        "Anna Example", email="anna@example.org", phone="+15550100", card_uid=UID, now=T0
    )
    bob = add_member("Bob Other", email="bob@example.org", now=T0)
    handle(UID, "till", now=T0 + timedelta(hours=1))
    # part of the log has left the box already
    Event.update(sent_at=1).where(Event.id <= 2).execute()
    handle(UID, "till", now=T0 + timedelta(hours=2))
    visits = Member.get_by_id(anna["id"]).visit_count
    erase_member(anna["id"], "owner", now=T0 + timedelta(days=1))

    text = " ".join(e.payload for e in Event.select())
    for personal in ("Anna", "anna@example.org", "+15550100", UID):
        assert personal not in text
    assert "Bob Other" in text and "bob@example.org" in text  # others are untouched
    events = _payloads(anna["id"])
    erase = [p for t, p, _ in events if t == "erase"]
    code = anna["cards"][0]["code"].replace("-", "")
    assert erase == [{"member": {"id": anna["id"]}, "cards": [code], "at": erase[0]["at"]}]
    stamps = [p for t, p, _ in events if t == "stamp"]
    assert len(stamps) == 2
    assert all(p["member"]["name"] == "" and p["nfc_uid"] is None for p in stamps)
    assert [p["card"] for p in stamps] == [code, code]  # still counted against the card
    assert Member.get_by_id(anna["id"]).visit_count == visits == 2
    assert bob["id"] != anna["id"]


def _remote_state(code, ref, name, stamps, uid=None, **extra):
    """A card's state as the centre publishes it: another shop's member and its stamps."""
    box = ref.split(":")[0]
    return {
        "code": code, "nfc_uid": uid, "member": ref, "name": name, "home": box,
        "boxes": {box: {"stamps": stamps, "visits": stamps, "last_at": to_micros(T0),
                        "spend_cents": 0}},
    } | extra  # fmt: skip


def _apply(box, state, now):
    with box.db.atomic():
        apply_state(box.db, box_id(box.db), f"chain.state.card.{state['code']}", state, now)


def _held(code):
    return Member.select().join(Card).where(Card.code == code).first()


def test_a_member_erased_in_their_home_shop_is_erased_here_with_the_counts_kept(box):
    _apply(box, _remote_state("RMT00001", "home:7", "Zoe Remote", 2, uid="04AA11BB22CC33"), 1)
    zoe = _held("RMT00001")
    assert zoe.name == "Zoe Remote" and zoe.visit_count == 2 and zoe.chain_ref == "home:7"
    result = handle(
        "04AA11BB22CC33", "till", now=T0 + timedelta(days=2)
    )  # a stamp here on her card
    assert result.status == "stamped", result
    # her home shop stamped once more, then erased her; the state says both at once
    _apply(box, _remote_state("RMT00001", "home:7", "", 3, erased=True), 2)
    assert _held("RMT00001") is None  # the card is gone
    zoe = Member.get_by_id(zoe.id)
    assert zoe.name == "" and zoe.erased_at is not None and zoe.visit_count == 4
    text = " ".join(e.payload for e in Event.select())
    assert "Zoe" not in text and "04AA11BB22CC33" not in text  # this shop's own stamp event too
    # a later state of that card brings nobody back
    _apply(box, _remote_state("RMT00001", "home:7", "", 4, erased=True), 3)
    assert _held("RMT00001") is None and Member.select().count() == 1
    assert Member.get_by_id(zoe.id).visit_count == 4


def test_a_remote_member_erased_here_is_not_brought_back_by_the_next_state(box):
    _apply(box, _remote_state("RMT00002", "home:8", "Yan Remote", 1), 1)
    yan = _held("RMT00002")
    erase_member(yan.id, "owner", now=T0 + timedelta(days=1))
    _apply(box, _remote_state("RMT00002", "home:8", "Yan Remote", 4), 2)
    assert _held("RMT00002") is None
    assert Member.select().where(Member.name == "Yan Remote").count() == 0


def test_a_member_merged_into_another_is_reported_erased(box):
    keep = add_member("Anna Example", email="anna@example.org", now=T0)
    other = add_member("Anna E.", phone="+15550100", now=T0)
    merge_members(keep["id"], other["id"], "owner", now=T0 + timedelta(hours=1))
    [erase] = [json.loads(e.payload) for e in Event.select().where(Event.type == "erase")]
    assert erase["member"] == {"id": other["id"]} and erase["cards"] == []
