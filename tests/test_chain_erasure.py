"""Chain mode, box side: erasing a member blanks them in the box's event log, sent or not, and
tells the centre (an 'erase' event), while their visits stay counted."""

import json
from datetime import timedelta

from appliance.counter import handle
from appliance.member_rights import erase_member
from appliance.members import add_member
from appliance.models import Event, Member

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
