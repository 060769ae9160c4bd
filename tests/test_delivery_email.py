"""Email as the receiver sees it (aiosmtpd on loopback), then acted on through the real web app:
the RFC 8058 one-click POST taken from the received List-Unsubscribe header, and a resend
after a lost "sent" mark arriving as the same message (one Message-ID)."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from urllib.parse import urlsplit

from appliance import box as box_mod
from appliance import campaigns, suppression
from appliance.channels.delivery import deliver_all
from appliance.models import Member, Outbox

from . import test_campaigns
from .conftest import T0
from .test_web import make_app

shop, smtp = test_campaigns.shop, test_campaigns.smtp

STYLED = {
    "email": {
        "": {
            "subject": "Hello {{first_name}}",
            "text": "{{stamps_left}} to go.",
            "html": "<style>.big{font-size:30px;color:#c00}</style>"
            "<p class='big'>Hi {{first_name}}</p>",
        }
    }
}


def _send(box, name, now):
    c = campaigns.create_campaign(
        name, "new-joiners", {"days": "30"}, ["email"], STYLED, now=now, box=box
    )
    campaigns.send_campaign(c["id"], now=now, box=box)
    deliver_all(box, now=now)
    return c["id"]


def test_one_click_unsubscribe_from_the_received_header(shop, smtp, settings):
    box, ids = shop
    _, sink = smtp
    _send(box, "First", T0)
    _, msg = next(m for m in sink.messages if m[0] == ["anna@example.com"])
    # multipart text + HTML, the owner's CSS moved into style attributes
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    html = msg.get_body(("html",)).get_content()
    assert "<style" not in html and "font-size: 30px" in html
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = msg["List-Unsubscribe"].strip("<>")
    # the mail provider POSTs exactly this, with no cookie and no CSRF token
    client = make_app(box.settings).test_client()
    box = box_mod.current()  # the app bound the box anew (one connection per thread)
    response = client.post(
        urlsplit(url).path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    # the footer also links the member's preference page (every channel, the language)
    text = msg.get_body(("plain",)).get_content()
    prefs = re.search(r"Your preferences: (https://box\.cafe\.example/p/\S+)", text).group(1)
    assert f'href="{prefs}"' in html
    assert "Your preferences" in client.get(urlsplit(prefs).path).get_data(as_text=True)
    anna = Member.get_by_id(ids["Anna"])
    assert anna.email_unsubscribed_at is not None and anna.email_consent_at is None
    assert suppression.reason_for(box, "email", "anna@example.com") == "unsubscribed"
    sink.messages.clear()
    _send(box, "Second", T0 + timedelta(hours=1))
    assert [m[0] for m in sink.messages] == [["emma@example.com"]]


def test_a_lost_sent_mark_resends_the_same_message(shop, smtp):
    box, ids = shop
    _, sink = smtp
    cid = _send(box, "First", T0)
    first = {r[0][0]: m["Message-ID"] for r, m in [(x[0:1], x[1]) for x in sink.messages]}
    # a power cut took the last marks (they commit without fsync): the rows say "sending",
    # claimed by a worker that is gone
    Outbox.update(state="sending", claimed_by=f"{socket.gethostname()}:999999999:gone").where(
        Outbox.campaign_id == cid, Outbox.state == "sent"
    ).execute()
    counts = deliver_all(box, now=T0 + timedelta(minutes=1))
    assert counts["sent"] == 2
    seen: dict[str, set] = {}
    for rcpt, msg in sink.messages:
        seen.setdefault(rcpt[0], set()).add(msg["Message-ID"])
    assert {k: v.pop() for k, v in seen.items() if len(v) == 1} == first
    assert len(sink.messages) == 4  # each message twice, as the same message


def test_every_ready_made_message_passes_the_content_checks():
    from appliance.campaigns import check_content
    from appliance.channels.starters import STARTERS, starter_content

    for name in STARTERS:
        check_content(["email", "sms"], starter_content(name))


def test_a_campaign_from_the_offer_starter_arrives_filled_in(shop, smtp):
    from appliance.channels.starters import starter_content

    box, ids = shop
    _, sink = smtp
    c = campaigns.create_campaign(
        "Offer", "new-joiners", {"days": "30"}, ["email"], starter_content("offer", ["email"]),
        now=T0, box=box, voucher_reward="Free cookie", voucher_days=14,
    )  # fmt: skip
    campaigns.send_campaign(c["id"], now=T0, box=box)
    assert deliver_all(box, now=T0)["sent"] == 2
    _, msg = next(m for m in sink.messages if m[0] == ["anna@example.com"])
    assert msg["Subject"] == "A gift for you, Anna"
    html = msg.get_body(("html",)).get_content()
    assert "<style" not in html and "background: #c58b2c" in html
    assert "Free cookie" in html and 'src="cid:' in html and "{{" not in html
    text = msg.get_body(("plain",)).get_content()
    assert "Show this code at the counter: V" in text


def test_a_hebrew_members_email_reads_right_to_left_with_a_hebrew_footer(shop, smtp):
    from appliance.channels.transactional import MARKETING_FOOTER
    from appliance.wording import gettext

    box, ids = shop
    _, sink = smtp
    Member.update(locale="he").where(Member.id == ids["Anna"]).execute()
    _send(box, "First", T0)
    _, msg = next(m for m in sink.messages if m[0] == ["anna@example.com"])
    html = msg.get_body(("html",)).get_content()
    footer = gettext("he", MARKETING_FOOTER).replace("{{shop_name}}", "Café Anna")
    assert '<html lang="he" dir="rtl">' in html and footer in html
    assert footer in msg.get_body(("plain",)).get_content()
    _, other = next(m for m in sink.messages if m[0] == ["emma@example.com"])
    assert 'dir="rtl"' not in other.get_body(("html",)).get_content()
