"""Customer and admin pages in a real browser: signup on a phone, Hebrew right to left,
member search. Gunicorn serves the app; Debian's Chromium is driven by Playwright."""

from __future__ import annotations

import pytest

from appliance.members import add_member
from appliance.models import Consent, Member

from .test_browser_counter import (
    CHROMIUM,
    LAUNCH_ARGS,
    _screenshot,
    pytestmark,  # noqa: F401 (slow, skipped without Chromium)
)
from .test_browser_counter import server as server  # noqa: F401 (the gunicorn fixture)

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_a_customer_signs_up_on_a_phone(server, browser, tmp_path):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                  locale="en-GB")  # fmt: skip
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(server + "/join")
    expect(page.locator("h1")).to_have_text("Join the stamp card")
    # mobile-first: nothing wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.fill("input[name=name]", "Noa <b>")
    page.fill("input[name=email]", "noa@example.com")
    page.select_option("select[name=day]", "2")
    page.select_option("select[name=month]", "7")
    page.check("input[name=consent_email]")
    _screenshot(page, tmp_path, "signup-phone.png")
    page.get_by_role("button", name="Join").tap()
    expect(page.locator("h1")).to_have_text("Welcome!")
    expect(page.locator("svg.qr")).to_be_visible()
    member = Member.get(Member.email == "noa@example.com")
    assert member.name == "Noa <b>" and (member.birthday_month, member.birthday_day) == (7, 2)
    assert Consent.get(Consent.member == member.id).channel == "email"
    # CSP violations show up as console errors
    assert errors == []


def test_the_hebrew_page_is_laid_out_right_to_left(server, browser, tmp_path):
    from playwright.sync_api import expect

    hebrew = {"Accept-Language": "he-IL,he;q=0.9"}
    context = browser.new_context(viewport=PHONE, locale="he-IL", extra_http_headers=hebrew)
    page = context.new_page()
    page.goto(server + "/join")
    expect(page.locator("h1")).to_have_text("הצטרפות לכרטיס החותמות")
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert page.evaluate("document.documentElement.lang") == "he"
    # right to left: the heading's text starts at the right edge of the form
    h1 = page.locator("h1").bounding_box()
    button = page.get_by_role("button", name="הצטרפות").bounding_box()
    assert abs((h1["x"] + h1["width"]) - (button["x"] + button["width"])) < 2
    _screenshot(page, tmp_path, "signup-hebrew-rtl.png")


def test_the_owner_finds_a_member_in_the_admin(server, browser, init_info, tmp_path):
    from playwright.sync_api import expect

    add_member("Ruth <i>Levi</i>", "ruth@example.com")
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(server + "/admin/members")
    page.fill("#username", "owner")
    page.fill("#password", init_info["owner"]["password"])
    page.click("button[type=submit]")
    # the one-time password is replaced by the owner's own first, then the page asked for
    page.wait_for_url("**/account/password**")
    page.fill("#current", init_info["owner"]["password"])
    page.fill("#new", "tall-oak-coffee-17")
    page.fill("#confirm", "tall-oak-coffee-17")
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/admin/members")
    page.fill("input[name=q]", "ruth")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Ruth <i>Levi</i>").click()
    expect(page.locator("h1.member-name")).to_contain_text("Ruth <i>Levi</i>")
    page.goto(server + "/admin")
    expect(page.locator("#stat-visits svg rect")).to_have_count(30)
    _screenshot(page, tmp_path, "admin-dashboard.png")
    assert errors == []


@pytest.fixture
def wallet_files(cli_env, tmp_path):
    """Test certificates and a Google service account; the box's address is https."""
    import json

    from tests.fixtures.wallet.google_peer import service_account_key
    from tests.fixtures.wallet.pki import make_pki

    pki = make_pki(tmp_path / "pki")
    account, public_key = service_account_key("http://127.0.0.1:9/token")
    key = tmp_path / "service-account.json"
    key.write_text(json.dumps(account))
    cli_env["STAMPBOX_PUBLIC_URL"] = "https://cafe.example"
    return pki, key, public_key


def test_the_owner_sets_up_wallets_and_a_customer_saves_the_card(
    wallet_files, server, browser, init_info, tmp_path
):
    from playwright.sync_api import expect

    from appliance.wallet import check_pkpass
    from appliance.wallet.google import SAVE_URL
    from tests.fixtures.wallet.google_peer import verify_save_jwt

    pki, key, public_key = wallet_files
    owner = browser.new_page(viewport={"width": 1280, "height": 860})
    errors = []
    owner.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    owner.goto(server + "/admin/wallet")
    owner.fill("#username", "owner")
    owner.fill("#password", init_info["owner"]["password"])
    owner.click("button[type=submit]")
    owner.wait_for_url("**/account/password**")
    owner.fill("#current", init_info["owner"]["password"])
    owner.fill("#new", "tall-oak-coffee-17")
    owner.fill("#confirm", "tall-oak-coffee-17")
    owner.click("form.stack button[type=submit]")
    owner.wait_for_url("**/admin/wallet")
    apple = owner.locator("form[action$='/admin/wallet/apple']")
    apple.locator("input[name=cert]").set_input_files(str(pki.paths["cert"]))
    apple.locator("input[name=key]").set_input_files(str(pki.paths["key"]))
    apple.locator("input[name=wwdr]").set_input_files(str(pki.paths["wwdr"]))
    apple.locator("button[type=submit]").click()
    expect(owner.locator("#apple-ready")).to_contain_text("pass.com.example.stampbox")
    google = owner.locator("form[action$='/admin/wallet/google']")
    google.locator("input[name=key]").set_input_files(str(key))
    google.locator("button[type=submit]").click()
    owner.fill("input[name=google_issuer_id]", "3388000000012345678")
    owner.locator("form[action$='/admin/wallet/identifiers'] button").click()
    expect(owner.locator("#google-ready")).to_contain_text("3388000000012345678")
    _screenshot(owner, tmp_path, "admin-wallet.png")
    owner.goto(server + "/admin/wallet/test")
    expect(owner.locator("#pass-strip")).to_be_visible()
    _screenshot(owner, tmp_path, "admin-wallet-test.png")
    assert errors == []

    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                accept_downloads=True).new_page()  # fmt: skip
    phone.goto(server + "/join")
    phone.fill("input[name=name]", "Noa")
    phone.fill("input[name=email]", "noa@example.com")
    phone.get_by_role("button", name="Join").tap()
    expect(phone.locator("#add-apple-wallet")).to_have_text("Add to Apple Wallet")
    _screenshot(phone, tmp_path, "signup-wallet-buttons.png")
    with phone.expect_download() as download:
        phone.locator("#add-apple-wallet").click()
    assert check_pkpass(open(download.value.path(), "rb").read(), root=pki.root) == []
    # Google's page is not reachable from here: the browser's request to it is what counts
    asked = []
    phone.route(SAVE_URL + "**", lambda route: (asked.append(route.request.url),
                                                route.fulfill(body="saved")))  # fmt: skip
    phone.locator("#save-google-wallet").click()
    phone.wait_for_url(SAVE_URL + "**")
    claims = verify_save_jwt(asked[0][len(SAVE_URL) :], public_key)
    assert claims["payload"]["loyaltyObjects"][0]["accountName"] == "Noa"
