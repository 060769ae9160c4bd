"""In a real browser: the owner starts a campaign from a ready-made message, and is asked
before a second choice replaces what they typed (the page works without its script too: see
test_admin_campaigns)."""

from __future__ import annotations

import os

import pytest

from appliance.channels.starters import STARTERS

from . import test_browser_counter as browser_counter
from .test_browser_counter import CHROMIUM
from .test_browser_counter import page as page  # noqa: F401 (the browser fixture)
from .test_browser_counter import server as server  # noqa: F401 (the gunicorn fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed"),
]


def test_the_owner_starts_from_a_ready_made_message_and_is_asked_before_losing_text(
    server, page, init_info, tmp_path
):
    from playwright.sync_api import expect

    page.goto(server + "/counter")
    page.fill("#username", "owner")
    page.fill("#password", init_info["owner"]["password"])
    page.click("button[type=submit]")
    choose_password = getattr(browser_counter, "_choose_password_if_asked", None)
    if choose_password:
        choose_password(page, init_info["owner"]["password"])
    page.goto(server + "/admin/campaigns/new")
    subject = page.locator("[name='c.email.all.subject']")
    page.check("input[name=starter][value=offer]")
    page.click("form.starter-form button[type=submit]")  # nothing typed: no question
    expect(subject).to_have_value(STARTERS["offer"]["content"]["email"][""]["subject"])
    expect(page.locator("input[name=voucher_reward]")).not_to_have_value("")
    folder = os.environ.get("STAMPBOX_SCREENSHOTS") or tmp_path
    page.screenshot(path=os.path.join(folder, "campaign-starter.png"), full_page=True)

    subject.fill("My own words")
    page.check("input[name=starter][value=birthday]")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("form.starter-form button[type=submit]")
    expect(subject).to_have_value("My own words")  # kept: the owner said no
    assert asked and "ready-made" in asked[0]
    page.once("dialog", lambda d: d.accept())
    page.click("form.starter-form button[type=submit]")
    expect(subject).to_have_value(STARTERS["birthday"]["content"]["email"][""]["subject"])
    expect(page.locator("select[name=segment]")).to_have_value("birthday")
