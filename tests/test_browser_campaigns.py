"""End to end in a real browser: the owner writes a campaign (the SMS counter updates as
they type), previews it for a member found by name, and sends it; gunicorn serves the app."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest

from appliance.clock import utcnow
from appliance.members import add_member
from appliance.models import Member, Outbox

from . import test_browser_counter as browser_counter
from .test_browser_counter import CHROMIUM
from .test_browser_counter import page as page  # noqa: F401 (the browser fixture)
from .test_browser_counter import server as server  # noqa: F401 (the gunicorn fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed"),
]


def test_the_owner_writes_previews_and_sends_a_campaign_in_a_browser(
    server, page, init_info, tmp_path
):
    from playwright.sync_api import expect

    anna = add_member("Anna Berg", "anna@example.com", now=utcnow() - timedelta(days=1))
    Member.update(email_consent_at=utcnow()).execute()
    page.goto(server + "/counter")
    page.fill("#username", "owner")
    page.fill("#password", init_info["owner"]["password"])
    page.click("button[type=submit]")
    choose_password = getattr(browser_counter, "_choose_password_if_asked", None)
    if choose_password:  # the owner's first login may ask for a password of their own
        choose_password(page, init_info["owner"]["password"])
    # the segments list fills in its costly count after the page has loaded
    page.goto(server + "/admin/segments")
    expect(page.locator("td[data-count-url]")).to_have_text("0", timeout=5000)
    page.goto(server + "/admin/campaigns/new")
    page.fill("input[name=name]", "Welcome back")
    page.select_option("select[name=segment]", "top-customers")
    expect(page.locator("input[name=params]")).to_have_attribute(
        "placeholder", "days=365, percent=10, min_purchases=2"
    )
    page.select_option("select[name=segment]", "new-joiners")
    page.fill("input[name=params]", "days=7")
    page.fill("[name='c.email.all.subject']", "Hello {{first_name}}")
    page.fill("[name='c.email.all.text']", "{{stamps_left}} stamps to your {{reward}}.")
    expect(page.locator("fieldset.channel-sms")).to_be_hidden()
    page.check("input[name=channels][value=sms]")
    expect(page.locator("fieldset.channel-sms")).to_be_visible()
    sms = page.locator("[name='c.sms.all.text']")
    live = page.locator("output.sms-live").first
    sms.fill("a" * 641)
    expect(live).to_contain_text("641 / 640", timeout=5000)
    expect(live).to_have_class(re.compile("status-error"))
    sms.fill("שלום {{first_name}}!")
    expect(live).to_contain_text("UCS-2", timeout=5000)
    _shot(page, tmp_path, "campaign-form.png")
    page.click("form.campaign-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Welcome back")
    cid = int(page.url.rsplit("/", 1)[1])

    page.fill("input[name=member]", "Anna")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".preview-sms .sms-encoding")).to_have_text("UCS-2")
    expect(page.locator(".preview-sms .message-text")).to_have_text("שלום Anna!")
    frame = page.frame_locator("iframe.email-preview")
    expect(frame.locator("body")).to_contain_text("stamps to your")
    _shot(page, tmp_path, "campaign-preview.png")

    page.goto(f"{server}/admin/campaigns/{cid}")
    page.get_by_role("button", name="Send now").click()
    expect(page.locator(".notice")).to_contain_text("Queued for 1 recipients")
    expect(page.locator("td[data-count=recipients]")).to_have_text("1")
    rows = Outbox.select().where(Outbox.campaign_id == cid)
    assert {(r.member_id, r.channel) for r in rows} == {(anna["id"], "email"), (anna["id"], "sms")}
    _shot(page, tmp_path, "campaign-sent.png")


def _shot(tab, tmp_path, name):
    folder = os.environ.get("STAMPBOX_SCREENSHOTS") or tmp_path
    tab.screenshot(path=os.path.join(folder, name), full_page=True)
