"""`stampbox messages`: failures and uncertain SMS listed with their reasons (every kind of
message, not only campaigns), and one sent again on the owner's word."""

from __future__ import annotations

import json

from appliance import outbox
from appliance.members import add_member
from appliance.models import Outbox

from .conftest import T0


def _rows(box):
    anna = add_member("Anna", "anna@example.com", now=T0)["id"]
    ben = add_member("Ben", phone="+491701234567", now=T0)["id"]
    db = box.db
    outbox.add_outbox(db, "signup_confirm:1", "signup_confirm", anna, {}, T0, channel="email")
    outbox.add_outbox(db, "automation:welcome:2", "message", ben, {}, T0, channel="sms")
    outbox.add_outbox(db, "campaign:1:1", "message", anna, {}, T0, channel="email")
    Outbox.update(state="failed", last_error="recipient refused: 550 5.1.1 no such user").where(
        Outbox.event_key == "signup_confirm:1"
    ).execute()
    Outbox.update(state="uncertain", last_error="no answer from the SMS provider").where(
        Outbox.event_key == "automation:welcome:2"
    ).execute()
    Outbox.update(state="sent").where(Outbox.event_key == "campaign:1:1").execute()
    return anna, ben


def test_problems_are_listed_with_their_reasons(box, stampbox):
    _rows(box)
    out = stampbox("messages", "list", "--problems", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["event_key"]: r for r in json.loads(out.stdout)["messages"]}
    assert set(rows) == {"signup_confirm:1", "automation:welcome:2"}
    assert rows["signup_confirm:1"]["reason"].startswith("recipient refused: 550")
    assert rows["automation:welcome:2"]["state"] == "uncertain"
    text = stampbox("messages", "list", "--state", "sent").stdout
    assert "campaign" not in text and "sent" in text and "member" in text


def test_an_uncertain_sms_is_sent_again_only_when_the_owner_says(box, stampbox):
    _rows(box)
    row = Outbox.get(Outbox.event_key == "automation:welcome:2")
    sent = Outbox.get(Outbox.event_key == "campaign:1:1")
    out = stampbox("messages", "send-again", str(row.id), "--json")
    assert out.returncode == 0, out.stderr
    assert Outbox.get_by_id(row.id).state == "pending"
    # a message that went is never sent twice
    refused = stampbox("messages", "send-again", str(sent.id))
    assert refused.returncode == 3 and "not failed or uncertain" in refused.stdout
    assert Outbox.get_by_id(sent.id).state == "sent"
