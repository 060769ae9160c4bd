"""The hashed suppression list: unsubscribes, bounces and erasures outlive the member row, so
an address that comes back (re-imported, signed up again) gets no marketing; only its owner
lifts that (a confirmed double opt-in, an SMS START). Delivery to real servers on loopback."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

from appliance import campaigns, suppression
from appliance.channels import unsubscribe as unsub
from appliance.channels.delivery import deliver_all
from appliance.member_rights import erase_member
from appliance.members import add_member
from appliance.models import Member, Outbox
from appliance.signup import ConsentShown, confirm_email, signup

from . import test_campaigns
from .conftest import T0
from .test_campaigns import _create

# the campaign tests' shop (five kinds of member) and loopback SMTP server
shop, smtp = test_campaigns.shop, test_campaigns.smtp

LATER = T0 + timedelta(days=2)


def _campaign(box, now):
    c = _create(box)
    campaigns.send_campaign(c["id"], now=now, box=box)
    deliver_all(box, now=now)
    return campaigns.campaign_status(c["id"], box=box)


def _reasons(status) -> dict:
    return {r["reason"]: r["count"] for r in status["reasons"]}


def _comes_back(email, now, name="Back Again"):
    """The address returns as a new member who (again) consents to email marketing."""
    member = add_member(name, email, now=now)
    Member.update(email_consent_at=now).where(Member.id == member["id"]).execute()
    return member["id"]


def test_an_unsubscribed_then_erased_address_that_returns_gets_no_marketing(shop, smtp):
    box, ids = shop
    _, sink = smtp
    assert Member.get_by_id(ids["David"]).email_unsubscribed_at is not None  # the fixture's
    erase_member(ids["David"], "owner", now=T0)
    erase_member(ids["Emma"], "owner", now=T0)  # erased, never unsubscribed
    again = [_comes_back("David@Example.com ", LATER), _comes_back("emma@example.com", LATER)]
    status = _campaign(box, LATER)
    mailed = {rcpt[0] for rcpt, _ in sink.messages}
    assert mailed == {"anna@example.com"}
    states = {o.member_id: (o.state, o.last_error) for o in Outbox.select()}
    assert states[again[0]][0] == states[again[1]][0] == "suppressed"
    # the returning members were marked opted out when they were added (mark_member)
    assert {states[again[0]][1], states[again[1]][1]} == {"unsubscribed"}
    assert suppression.reason_for(box, "email", "emma@example.com") == "erased"
    assert status["suppressed"] >= 2 and status["sent"] == 1


def test_the_list_keeps_hashes_only(shop, settings):
    box, ids = shop
    erase_member(ids["Anna"], "owner", now=T0)
    db = sqlite3.connect(settings.db_path)
    rows = db.execute("SELECT channel, address_hash, reason FROM suppression").fetchall()
    assert ("email", suppression.address_hash("email", "anna@example.com", box), "erased") in rows
    assert all("@" not in h and "example" not in h for _, h, _ in rows)
    member = db.execute("SELECT * FROM member WHERE id = ?", (ids["Anna"],)).fetchone()
    assert "anna@example.com" not in str(member) and "Anna Berg" not in str(member)
    assert suppression.counts(box)["email:unsubscribed"] == 1  # David, from the fixture


def test_a_permanent_refusal_marks_the_address_bounced_for_good(shop, smtp):
    box, ids = shop
    _, sink = smtp

    async def refuse_emma(server, session, envelope, address, rcpt_options):
        if address.startswith("emma"):
            return "550 5.1.1 <emma@example.com>: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    sink.handle_RCPT = refuse_emma
    status = _campaign(box, T0)
    assert status["failed"] == 1 and "no such user" in str(status["reasons"])
    assert Member.get_by_id(ids["Emma"]).email_bounced_at is not None
    assert suppression.reason_for(box, "email", "EMMA@example.com") == "bounced"
    # the bounced address comes back under another member: neither marketing nor a
    # signup confirmation is sent to it
    erase_member(ids["Emma"], "owner", now=T0)
    sink.messages.clear()
    result = signup(
        name="Emma", email="emma@example.com", phone=None, birthday=None,
        consents=[ConsentShown("email", "Yes", "1")], locale="en", source="test", now=LATER,
    )  # fmt: skip
    Member.update(email_consent_at=LATER).where(Member.id == result.member_id).execute()
    status = _campaign(box, LATER)
    assert {rcpt[0] for rcpt, _ in sink.messages} == {"anna@example.com"}
    rows = Outbox.select().where(Outbox.member == result.member_id)
    assert {(o.kind, o.state, o.last_error) for o in rows} == {
        ("signup_confirm", "suppressed", "bounced"),
        ("message", "suppressed", "bounced"),
    }


def test_a_policy_refusal_after_data_fails_the_message_without_a_bounce(shop, smtp):
    box, ids = shop
    _, sink = smtp

    async def refuse_data(server, session, envelope):
        return "554 5.7.1 message refused as spam"

    sink.handle_DATA = refuse_data
    status = _campaign(box, T0)
    assert status["failed"] == 2 and "5.7.1" in str(status["reasons"])
    assert Member.get_by_id(ids["Anna"]).email_bounced_at is None
    assert suppression.counts(box).get("email:bounced") is None


def test_a_confirmed_double_opt_in_lifts_an_earlier_opt_out(shop, smtp):
    box, ids = shop
    _, sink = smtp
    erase_member(ids["David"], "owner", now=T0)  # unsubscribed, then erased
    result = signup(
        name="David", email="david@example.com", phone=None, birthday=None,
        consents=[ConsentShown("email", "Yes", "1")], locale="en", source="test", now=LATER,
    )  # fmt: skip
    deliver_all(box, now=LATER)
    # the confirmation goes (it is how the owner of the address opts in again) ...
    assert [rcpt for rcpt, _ in sink.messages] == [["david@example.com"]]
    # ... and marketing does not, until the link is followed
    Member.update(email_consent_at=LATER).where(Member.id == result.member_id).execute()
    _campaign(box, LATER)
    row = Outbox.get((Outbox.member == result.member_id) & (Outbox.kind == "message"))
    # the signup marked the new member at once: counted when the campaign was queued
    assert (row.state, row.last_error) == ("suppressed", "unsubscribed")
    token = json.loads(Outbox.get(Outbox.kind == "signup_confirm").payload)["token"]
    assert confirm_email(token, now=LATER) == result.member_id
    assert suppression.reason_for(box, "email", "david@example.com") is None
    sink.messages.clear()
    c = campaigns.create_campaign(
        "Next", "new-joiners", {"days": "30"}, ["email"],
        {"email": {"": {"subject": "S", "text": "T"}}}, now=LATER, box=box,
    )  # fmt: skip
    campaigns.send_campaign(c["id"], now=LATER, box=box)
    deliver_all(box, now=LATER)
    assert "david@example.com" in {rcpt[0] for rcpt, _ in sink.messages}


def test_an_unsubscribe_link_puts_the_address_on_the_list(shop):
    box, ids = shop
    unsub.unsubscribe(ids["Anna"], "email", now=T0)
    assert suppression.reason_for(box, "email", " ANNA@example.com") == "unsubscribed"
    assert suppression.reason_for(box, "email", "ben@example.com") is None


def test_a_stopped_number_that_signs_up_again_stays_out_until_start(shop):
    from appliance.channels.unsubscribe import sms_reply

    box, _ = shop
    assert sms_reply("+49 170 5550000", "STOP", now=T0, box=box) == []  # nobody has it yet
    result = signup(
        name="Sam", email=None, phone="0170 5550000", birthday=None,
        consents=[ConsentShown("sms", "Yes, SMS", "1")], locale="en", source="test", now=LATER,
    )  # fmt: skip
    sam = Member.get_by_id(result.member_id)
    assert sam.sms_consent_at is not None and sam.sms_unsubscribed_at is not None
    assert sms_reply("+491705550000", "START", now=LATER, box=box) == [result.member_id]
    assert Member.get_by_id(result.member_id).sms_unsubscribed_at is None
    assert suppression.reason_for(box, "sms", "0170 5550000") is None


def test_an_address_on_the_list_is_marked_when_it_is_added_or_imported(shop, tmp_path):
    from appliance.importer import import_files

    box, ids = shop
    erase_member(ids["David"], "owner", now=T0)  # unsubscribed, then erased
    added = add_member("David again", "david@example.com", "+49 170 0000001", now=LATER)
    assert Member.get_by_id(added["id"]).email_unsubscribed_at is not None
    assert Member.get_by_id(added["id"]).sms_unsubscribed_at is None  # that number is not listed
    members, visits = tmp_path / "m.csv", tmp_path / "v.csv"
    members.write_text(
        "external_id,name,email,phone,birthday,joined_at,locale,email_consent,sms_consent\n"
        "x-1,Dave,DAVID@example.com,,,,,yes,no\nx-2,Fresh,fresh@example.com,,,,,yes,no\n",
        encoding="utf-8",
    )
    visits.write_text("member_external_id,at,amount,stamps\n", encoding="utf-8")
    import_files(members, visits, now=LATER)
    dave, fresh = (Member.get(Member.external_id == x) for x in ("x-1", "x-2"))
    assert dave.email_unsubscribed_at is not None and fresh.email_unsubscribed_at is None
