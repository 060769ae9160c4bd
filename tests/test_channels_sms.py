"""SMS: segment counting, and delivery to a real Twilio-shaped HTTP server on loopback."""

from __future__ import annotations

import base64
import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from appliance import box as box_mod
from appliance import campaigns, outbox
from appliance.channels import get
from appliance.channels.delivery import deliver_all
from appliance.members import add_member
from appliance.messages import ContentError, check_sms, sms_info
from appliance.models import Member, Outbox
from appliance.provision import init_box
from appliance.settings import load_settings

from .conftest import T0


def test_gsm7_and_ucs2_segments():
    assert sms_info("a" * 160).to_dict() == {
        "length": 160,
        "encoding": "GSM-7",
        "units": 160,
        "segments": 1,
    }
    assert sms_info("a" * 161).segments == 2  # 153 per part once split
    assert sms_info("a" * 306).segments == 2 and sms_info("a" * 307).segments == 3
    assert sms_info("€" * 80).units == 160 and sms_info("€" * 81).segments == 2
    assert sms_info("[]{}").units == 8
    assert sms_info("Grüße, Anna").encoding == "GSM-7"  # ü and ß are in the GSM alphabet
    assert sms_info("ç" * 70).encoding == "UCS-2"  # only Ç is; ç is not
    assert sms_info("ç" * 70).segments == 1 and sms_info("ç" * 71).segments == 2
    assert sms_info("🎉").units == 2  # outside the BMP: two UTF-16 units
    assert sms_info("a" * 640).segments == 5 and sms_info("ç" * 640).segments == 10
    check_sms("a" * 640)
    with pytest.raises(ContentError, match="640"):
        check_sms("a" * 641)


class Provider(BaseHTTPRequestHandler):
    requests: list = []
    status = 201

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).requests.append(
            {"path": self.path, "auth": self.headers["Authorization"], "form": parse_qs(body)}
        )
        answer = {"sid": f"SM{len(self.requests):032d}", "status": "queued", "num_segments": "1"}
        if self.status >= 400:
            answer = {"code": 21211, "message": "The 'To' number is not a valid phone number."}
        data = json.dumps(answer).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    Provider.requests = []
    Provider.status = 201
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def shop(settings, provider):
    s = load_settings(
        environ={},
        data_dir=settings.data_dir,
        timezone="Europe/Berlin",
        sms_api_url=f"http://127.0.0.1:{provider.server_address[1]}",
        sms_account="AC0123",
        sms_token="secret-token",
        sms_from="+4930123456",
        sms_quiet_start_hour=21,
        sms_quiet_end_hour=8,
        sms_per_minute=6000,
        shop_name="Café Anna",
    )
    init_box(s, now=T0)
    box = box_mod.current()
    ids = [
        add_member("Anna", phone="+491701234567", now=T0 - timedelta(days=1))["id"],
        add_member("Ben", phone="+491709999999", now=T0 - timedelta(days=1))["id"],
        add_member("Clara", phone="+491700000000", now=T0 - timedelta(days=1))["id"],
    ]
    Member.update(sms_consent_at=T0).where(Member.id.in_(ids[:2])).execute()
    yield box, ids
    box_mod.stop()


def _campaign(box):
    c = campaigns.create_campaign(
        "SMS",
        "new-joiners",
        {},
        ["sms"],
        {"sms": {"": {"text": "{{shop_name}}: hallo {{first_name}}, {{stamps_left}} to go"}}},
        now=T0,
        box=box,
    )
    campaigns.send_campaign(c["id"], now=T0, box=box)
    return c["id"]


NOON = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # 12:00 in Berlin


def test_sms_land_on_the_provider_with_the_right_form_fields(shop, provider):
    box, ids = shop
    cid = _campaign(box)
    counts = deliver_all(box, now=NOON)
    assert counts["sent"] == 2
    assert [r["path"] for r in Provider.requests] == [
        "/2010-04-01/Accounts/AC0123/Messages.json"
    ] * 2
    first = Provider.requests[0]
    assert first["auth"] == "Basic " + base64.b64encode(b"AC0123:secret-token").decode()
    assert first["form"] == {
        "To": ["+491701234567"],
        "From": ["+4930123456"],
        "Body": ["Café Anna: hallo Anna, 10 to go"],
    }
    status = campaigns.campaign_status(cid, box=box)
    assert (status["sent"], status["suppressed"]) == (2, 1)
    assert Outbox.get(Outbox.member == ids[0]).provider_id.startswith("SM")


def test_quiet_hours_hold_the_messages_until_morning(shop, provider):
    box, _ = shop
    _campaign(box)
    night = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    counts = deliver_all(box, now=night)
    assert counts["later"] == 2 and Provider.requests == []
    due = {r.due_at for r in Outbox.select().where(Outbox.state == "pending")}
    assert due == {datetime(2026, 11, 25, 7, 0, tzinfo=UTC)}  # 08:00 in Berlin
    assert get("sms", box).defer_until(NOON) is None


def test_a_provider_error_fails_the_message_and_a_5xx_waits(shop, provider):
    box, _ = shop
    cid = _campaign(box)
    Provider.status = 503
    assert deliver_all(box, now=NOON)["later"] == 2
    Provider.status = 400
    later = NOON + timedelta(hours=1)
    assert deliver_all(box, now=later)["failed"] == 2
    reasons = campaigns.campaign_status(cid, box=box)["reasons"]
    assert any("400" in r["reason"] and "valid phone" in r["reason"] for r in reasons)


def test_an_sms_interrupted_mid_hand_over_is_uncertain_not_resent(shop, provider):
    box, _ = shop
    cid = _campaign(box)
    rows = outbox.claim_due(box.db, NOON, 10)
    Outbox.update(claimed_by=f"{socket.gethostname()}:999999999:dead").where(
        Outbox.id.in_([r["id"] for r in rows])
    ).execute()
    counts = deliver_all(box, now=NOON)
    assert counts["sent"] == 0 and Provider.requests == []
    status = campaigns.campaign_status(cid, box=box)
    assert status["uncertain"] == 2 and status["queued"] == 0


def test_a_stop_reply_unsubscribes_the_number_and_suppresses_what_is_queued(shop):
    from appliance.channels.unsubscribe import sms_reply

    box, ids = shop
    cid = _campaign(box)
    assert sms_reply("+49 170 9999999", "hello", box=box) == []
    assert sms_reply("+491709999999", " Stop ", box=box) == [ids[1]]
    status = campaigns.campaign_status(cid, box=box)
    assert status["queued"] == 1 and status["suppressed"] == 2
    assert Member.get_by_id(ids[1]).sms_unsubscribed_at is not None


def test_a_stop_outlives_the_member_and_only_start_lifts_it(shop, provider):
    from appliance import suppression
    from appliance.channels.unsubscribe import sms_reply
    from appliance.member_rights import erase_member
    from appliance.models import Consent

    box, ids = shop
    assert sms_reply("+49 170 1234567", "STOP", now=T0, box=box) == [ids[0]]
    anna = Member.get_by_id(ids[0])
    assert anna.sms_consent_at is None and anna.sms_unsubscribed_at is not None
    proof = Consent.get(Consent.member == ids[0])
    assert (proof.granted, proof.source, proof.wording) == (False, "sms-reply", "STOP")
    # a number nobody has any more still goes on the list
    assert sms_reply("+15550001111", "stop", now=T0, box=box) == []
    assert suppression.reason_for(box, "sms", "555-000-1111") == "unsubscribed"
    erase_member(ids[0], "owner", now=T0)
    again = add_member("Anna B", phone="0170 1234567", now=T0 - timedelta(hours=1))["id"]
    Member.update(sms_consent_at=NOON).where(Member.id == again).execute()
    _campaign(box)
    deliver_all(box, now=NOON)
    assert sorted(r["form"]["To"][0] for r in Provider.requests) == ["+491709999999"]
    row = Outbox.get(Outbox.member == again)
    # the returning member was marked opted out when added (the list says why: erased)
    assert (row.state, row.last_error) == ("suppressed", "unsubscribed")
    assert suppression.reason_for(box, "sms", "0170 1234567") == "erased"
    # the phone's owner texts START: the list lets the number go again
    assert sms_reply("+491701234567", "Start", now=NOON, box=box) == [again]
    assert suppression.reason_for(box, "sms", "+491701234567") is None
    assert (
        get("sms", box).suppression_reason({"phone": "0170 1234567", "sms_consent_at": NOON})
        is None
    )


def test_the_pace_spaces_messages_at_sms_per_minute_across_batches(shop, provider, monkeypatch):
    import dataclasses

    from appliance.channels.sms import SmsChannel

    box, ids = shop
    paced = dataclasses.replace(box, settings=dataclasses.replace(box.settings, sms_per_minute=30))
    now = [100.0]
    waits = []

    def pause(seconds):  # the clock moves by the wait instead of the test sleeping
        waits.append(round(seconds, 6))
        now[0] += seconds

    monkeypatch.setattr(SmsChannel, "clock", staticmethod(lambda: now[0]))
    monkeypatch.setattr(SmsChannel, "pause", staticmethod(pause))
    monkeypatch.setattr(SmsChannel, "_last_sent", 0.0)
    Member.update(sms_consent_at=T0).execute()
    _campaign(box)
    deliver_all(paced, now=NOON, limit=2)  # two batches: the second must not start with a burst
    assert len(Provider.requests) == 3
    assert waits == [2.0, 2.0]
