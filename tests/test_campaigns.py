"""Campaigns: create, queue (once per member and channel), consent and suppression, status,
and delivery to a real SMTP server (aiosmtpd on loopback) in this process."""

from __future__ import annotations

import email
import json
import socket
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller

from appliance import box as box_mod
from appliance import campaigns
from appliance.channels import unsubscribe as unsub
from appliance.channels.delivery import deliver_all
from appliance.counter import handle
from appliance.members import add_member
from appliance.models import Member, Outbox
from appliance.settings import load_settings

from .conftest import T0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """Keeps every message the SMTP server accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"


class SmtpServer:
    """aiosmtpd on a fixed loopback port that can be stopped and started again."""

    def __init__(self, sink, port=None):
        self.sink, self.port, self.controller = sink, port or free_port(), None

    def start(self):
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def smtp_settings(settings, port, **extra):
    """The test's settings with email going to the loopback SMTP server on `port`."""
    values = {"smtp_host": "127.0.0.1", "smtp_security": "none", "mail_from": "shop@cafe.example"}
    return load_settings(
        environ={},
        data_dir=settings.data_dir,
        timezone="UTC",
        smtp_port=port,
        **{**values, **extra},
    )


@pytest.fixture
def smtp():
    sink = Sink()
    server = SmtpServer(sink)
    server.start()
    yield server, sink
    server.stop()


@pytest.fixture
def shop(settings, smtp):
    """A box whose email goes to the loopback SMTP server, with five kinds of member."""
    from appliance.provision import init_box

    controller, _ = smtp
    s = smtp_settings(
        settings,
        controller.port,
        mail_from="Café Anna <hello@cafe.example>",
        public_url="https://box.cafe.example",
        shop_name="Café Anna",
    )
    init_box(s, now=T0)
    box = box_mod.current()
    ids = {}
    for name, mail in (
        ("Anna Berg", "anna@example.com"),  # consent: gets it
        ("Ben", "ben@example.com"),  # no consent
        ("Clara", None),  # no address
        ("David", "david@example.com"),  # consent, then unsubscribed
        ("Emma", "emma@example.com"),  # consent
    ):
        ids[name.split()[0]] = add_member(name, mail, now=T0)["id"]
    Member.update(email_consent_at=T0).where(
        Member.id.in_([ids["Anna"], ids["David"], ids["Emma"], ids["Clara"]])
    ).execute()
    unsub.unsubscribe(ids["David"], "email", now=T0)
    yield box, ids
    box_mod.stop()


def _create(box, **extra):
    return campaigns.create_campaign(
        "November",
        "new-joiners",
        {"days": "30"},
        ["email"],
        {
            "email": {
                "": {
                    "subject": "Hello {{first_name}}",
                    "text": "You have {{stamps}} stamps, {{stamps_left}} to go.",
                    "html": "<p>Hi <b>{{first_name}}</b> &amp; welcome</p>",
                }
            }
        },
        now=T0,
        box=box,
        **extra,
    )


def test_a_campaign_queues_one_row_per_member_and_counts_suppressions(shop):
    box, ids = shop
    c = _create(box)
    sent = campaigns.send_campaign(c["id"], now=T0 + timedelta(hours=1), box=box)
    assert sent == {"id": c["id"], "state": "queued", "recipients": 5}
    again = campaigns.send_campaign(c["id"], now=T0 + timedelta(hours=2), box=box)
    assert again["recipients"] == 5
    assert Outbox.select().where(Outbox.campaign_id == c["id"]).count() == 5
    status = campaigns.campaign_status(c["id"], box=box)
    assert (status["state"], status["queued"], status["suppressed"]) == ("sending", 2, 3)
    reasons = {r["reason"]: r["count"] for r in status["reasons"]}
    assert reasons == {"no consent": 1, "no address": 1, "unsubscribed": 1}


def test_email_delivery_is_multipart_with_one_click_unsubscribe(shop, smtp):
    box, ids = shop
    _, sink = smtp
    c = _create(box)
    campaigns.send_campaign(c["id"], now=T0, box=box)
    counts = deliver_all(box, now=T0 + timedelta(minutes=1))
    assert counts["sent"] == 2 and counts["failed"] == 0
    assert sorted(r[0][0] for r in sink.messages) == ["anna@example.com", "emma@example.com"]
    rcpt, msg = next(m for m in sink.messages if m[0] == ["anna@example.com"])
    assert msg["Subject"] == "Hello Anna"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "You have 0 stamps, 10 to go." in text
    assert "<b>Anna</b>" in html and "style=" in html
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = msg["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://box.cafe.example/u/")
    # the Message-ID is a function of (event, member): a resend is the same message
    assert msg["Message-ID"].endswith("@cafe.example>")
    from appliance.channels.email import message_id

    assert msg["Message-ID"] == message_id(f"campaign:{c['id']}:{ids['Anna']}", "x@cafe.example")
    # following the link suppresses the member; a forged link is refused
    member_id, channel = unsub.unsubscribe_token(url.rsplit("/", 1)[1], box=box)
    assert (member_id, channel) == (ids["Anna"], "email")
    with pytest.raises(unsub.BadUnsubscribeToken):
        unsub.parse_token(f"{ids['Emma']}.email.{url.rsplit('.', 1)[1]}", box=box)
    status = campaigns.campaign_status(c["id"], box=box)
    assert (status["state"], status["sent"], status["queued"]) == ("done", 2, 0)
    assert deliver_all(box, now=T0 + timedelta(minutes=2))["claimed"] == 0  # never twice


def test_status_counts_recipients_who_came_back(shop):
    box, ids = shop
    c = _create(box)
    campaigns.send_campaign(c["id"], now=T0, box=box)
    deliver_all(box, now=T0)
    from appliance.members import new_card

    new_card(Member.get_by_id(ids["Emma"]), "04A23B4C5D6E7F", now=T0)
    handle("04A23B4C5D6E7F", "t", now=T0 + timedelta(days=10))
    status = campaigns.campaign_status(c["id"], box=box)
    assert (status["returned_7d"], status["returned_30d"]) == (0, 1)


def test_smtp_down_the_messages_wait_with_backoff_and_go_when_it_returns(shop, smtp):
    box, ids = shop
    controller, sink = smtp
    c = _create(box)
    campaigns.send_campaign(c["id"], now=T0, box=box)
    controller.stop()
    counts = deliver_all(box, now=T0)
    assert counts["later"] == 2 and counts["sent"] == 0
    rows = list(Outbox.select().where(Outbox.state == "pending"))
    assert len(rows) == 2 and all("unreachable" in r.last_error for r in rows)
    first_due = max(r.due_at for r in rows)
    assert first_due > T0
    # still down at the first retry: the wait doubles
    deliver_all(box, now=first_due)
    again = max(r.due_at for r in Outbox.select().where(Outbox.state == "pending"))
    assert again - first_due > first_due - T0
    controller.start()
    assert deliver_all(box, now=again)["sent"] == 2
    assert len(sink.messages) == 2


def test_recipient_refused_is_failed_with_the_reason_and_bounced(shop, smtp):
    box, ids = shop
    controller, sink = smtp

    async def refuse_emma(server, session, envelope, address, rcpt_options):
        if address.startswith("emma"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    sink.handle_RCPT = refuse_emma
    c = _create(box)
    campaigns.send_campaign(c["id"], now=T0, box=box)
    counts = deliver_all(box, now=T0)
    assert (counts["sent"], counts["failed"]) == (1, 1)
    status = campaigns.campaign_status(c["id"], box=box)
    assert any("550" in r["reason"] for r in status["reasons"])
    assert Member.get_by_id(ids["Emma"]).email_bounced_at is not None


def test_a_crash_mid_send_resends_the_same_message_id(shop, smtp):
    from appliance import outbox

    box, ids = shop
    _, sink = smtp
    c = _create(box)
    campaigns.send_campaign(c["id"], now=T0, box=box)
    rows = outbox.claim_due(box.db, T0, 10)
    # as if a dead worker (another pid) had claimed them and vanished mid-send
    Outbox.update(claimed_by=f"{socket.gethostname()}:999999999:dead").where(
        Outbox.id.in_([r["id"] for r in rows])
    ).execute()
    assert deliver_all(box, now=T0)["sent"] == 2
    status = campaigns.campaign_status(c["id"], box=box)
    assert status["sent"] == 2 and status["uncertain"] == 0


def test_scheduled_campaign_is_queued_when_due_and_can_be_cancelled(shop):
    box, _ = shop
    c = _create(box)
    later = T0 + timedelta(days=1)
    assert campaigns.send_campaign(c["id"], at=later, now=T0, box=box)["state"] == "scheduled"
    assert campaigns.queue_scheduled(T0, box=box) == []
    assert campaigns.queue_scheduled(later, box=box) == [c["id"]]
    assert campaigns.campaign_status(c["id"], box=box)["queued"] == 2
    d = _create(box)
    campaigns.send_campaign(d["id"], at=later, now=T0, box=box)
    assert campaigns.cancel_campaign(d["id"], now=T0, box=box)["state"] == "cancelled"
    assert campaigns.queue_scheduled(later, box=box) == []
    with pytest.raises(campaigns.CampaignError, match="cancelled"):
        campaigns.send_campaign(d["id"], now=T0, box=box)


def test_campaign_voucher_is_issued_once_and_shown_in_the_message(shop, smtp):
    box, ids = shop
    _, sink = smtp
    c = _create(box, voucher_reward="Free cake", voucher_days=14)
    campaigns.send_campaign(c["id"], now=T0, box=box)
    deliver_all(box, now=T0)
    msg = next(m for r, m in sink.messages if r == ["emma@example.com"])
    html = msg.get_body(("html",)).get_content()
    assert "Free cake" in html and 'src="cid:voucher-qr@stampbox"' in html
    codes = [
        r[0]
        for r in box.db.execute_sql(
            "SELECT code FROM voucher WHERE kind = 'campaign' ORDER BY member_id"
        ).fetchall()
    ]
    assert len(codes) == 2
    code = codes[-1]
    assert "-".join(code[i : i + 4] for i in range(0, 16, 4)) in html
    result = handle(code, "t", now=T0 + timedelta(hours=1))
    assert result.status == "voucher"
    # the QR image inside the message reads back as the same voucher
    import io

    import zxingcpp
    from PIL import Image

    image = next(p for p in msg.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<voucher-qr@stampbox>"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.get_content())))
    assert [d.text for d in decoded] == [code]


def test_bad_content_is_refused_when_created(shop):
    box, _ = shop
    with pytest.raises(campaigns.CampaignError, match="unknown variable"):
        campaigns.create_campaign(
            "x",
            "inactive",
            {},
            ["email"],
            {"email": {"": {"subject": "s", "text": "{{oops}}"}}},
            box=box,
        )
    with pytest.raises(campaigns.CampaignError, match="640"):
        campaigns.create_campaign(
            "x", "inactive", {}, ["sms"], {"sms": {"": {"text": "a" * 641}}}, box=box
        )
    with pytest.raises(Exception, match="Unknown segment"):
        campaigns.create_campaign(
            "x", "nobody", {}, ["sms"], {"sms": {"": {"text": "hi"}}}, box=box
        )


def test_cli_create_send_status(init_info, stampbox):
    add_member("Anna", "anna@example.com", now=T0 - timedelta(days=2))
    Member.update(email_consent_at=T0).execute()
    box_mod.stop()
    out = stampbox(
        "campaign", "create", "--name", "Hello", "--segment", "new-joiners",
        "--param", "days=3650", "--channel", "email", "--subject", "Hi",
        "--text", "Hello {{first_name}}", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    cid = json.loads(out.stdout)["id"]
    out = stampbox("campaign", "send", str(cid), "--json")
    assert out.returncode == 0, out.stderr
    out = stampbox("campaign", "status", str(cid), "--json")
    data = json.loads(out.stdout)
    assert {
        k: data[k] for k in ("state", "recipients", "queued", "sent", "failed", "suppressed")
    } == {
        "state": "sending",
        "recipients": 1,
        "queued": 1,
        "sent": 0,
        "failed": 0,
        "suppressed": 0,
    }
    out = stampbox("campaign", "send", "99", "--json")
    assert out.returncode == 2 and "no campaign 99" in out.stderr


def test_send_a_test_to_yourself(shop, smtp):
    box, ids = shop
    _, sink = smtp
    c = _create(box)
    campaigns.send_test(c["id"], "email", "owner@cafe.example", ids["Emma"], box=box)
    (rcpt, msg) = sink.messages[0]
    assert rcpt == ["owner@cafe.example"] and msg["Subject"] == "[Test] Hello Emma"
    assert Outbox.select().count() == 0


def test_consent_withdrawn_after_queueing_is_honoured_at_send_time(shop, smtp):
    box, ids = shop
    _, sink = smtp
    c = _create(box)
    campaigns.send_campaign(c["id"], now=T0, box=box)
    Member.update(email_consent_at=None).where(Member.id == ids["Emma"]).execute()
    counts = deliver_all(box, now=T0)
    assert (counts["sent"], counts["suppressed"]) == (1, 1)
    assert [r for r, _ in sink.messages] == [["anna@example.com"]]


def test_erased_members_are_suppressed_and_counted_as_erased(shop):
    from appliance.member_rights import erase_member

    box, ids = shop
    erase_member(ids["Emma"], "owner", now=T0)
    c = _create(box)
    campaigns.send_campaign(c["id"], now=T0, box=box)
    reasons = {
        r["reason"]: r["count"] for r in campaigns.campaign_status(c["id"], box=box)["reasons"]
    }
    assert reasons["erased"] == 1


def test_content_follows_the_members_language(shop, smtp):
    box, ids = shop
    _, sink = smtp
    Member.update(locale="de-DE").where(Member.id == ids["Anna"]).execute()
    c = campaigns.create_campaign(
        "Lang",
        "new-joiners",
        {},
        ["email"],
        {
            "email": {
                "": {"subject": "Hello {{first_name}}", "text": "Hello"},
                "de": {"subject": "Hallo {{first_name}}", "text": "Hallo"},
            }
        },
        now=T0,
        box=box,
    )
    campaigns.send_campaign(c["id"], now=T0, box=box)
    deliver_all(box, now=T0)
    subjects = {r[0]: m["Subject"] for r, m in sink.messages}
    assert subjects == {"anna@example.com": "Hallo Anna", "emma@example.com": "Hello Emma"}
