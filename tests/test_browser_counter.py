"""End to end in a real browser: gunicorn serves the app, Chromium shows the counter screen,
and taps arrive from outside the browser the way the bridge makes them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from datetime import time as dt_time

import pytest

from appliance.clock import utcnow
from appliance.counter import handle
from appliance.members import add_member
from appliance.models import Card, CounterEvent, Voucher

from .conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason="Chromium is not installed: `make system-deps` installs it (Debian: chromium)",
    ),
]
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UID = "04A23B4C5D6E7F"
NEW_UID = "04B1C2D3E4F5A6"
# a member name is hostile input: it must appear as these characters, not as markup
NAME = "<b>Anna</b> & co"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(url: str, proc: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer within 20 s:\n{log_path.read_text()}")


@pytest.fixture
def server(cli_env, init_info, tmp_path):
    """The web process as the box runs it (gunicorn, gthread), in development mode."""
    port = _free_port()
    log_path = tmp_path / "gunicorn.log"
    env = dict(cli_env, STAMPBOX_DEV_MODE="1")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
             "--worker-class", "gthread", "--workers", "1", "--threads", "4",
             # an open event stream must not hold the test's shutdown for 30 s
             "--graceful-timeout", "1", "web:create_app()"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, proc, log_path)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 860})
        finally:
            browser.close()


def _screenshot(page, tmp_path, name):
    # STAMPBOX_SCREENSHOTS=folder keeps them for a look; otherwise they go with tmp_path
    folder = os.environ.get("STAMPBOX_SCREENSHOTS") or tmp_path
    page.screenshot(path=os.path.join(folder, name), full_page=True)


def _choose_password_if_asked(page, given: str) -> None:
    """An owner holding the one-time password chooses their own first, then goes on."""
    page.wait_for_load_state()
    if "/account/password" not in page.url:
        return
    new = given + "-Mine-2026"
    page.fill("#current", given)
    page.fill("#new", new)
    page.fill("#confirm", new)
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/counter")


def test_the_counter_screen_follows_taps_and_redeems_once(server, page, init_info, tmp_path):
    from playwright.sync_api import expect

    member = add_member(NAME, card_uid=UID)
    page.goto(server + "/counter")
    page.fill("#username", "owner")
    page.fill("#password", init_info["owner"]["password"])
    page.click("button[type=submit]")
    _choose_password_if_asked(page, init_info["owner"]["password"])
    latest = page.locator("#latest")
    expect(page.locator("#live")).to_have_text("live", timeout=5000)
    sound = page.locator("#sound")
    sound.click()  # the screen's own sound, for a counter without a buzzer
    expect(sound).to_have_attribute("aria-pressed", "true")

    # taps from outside the browser, as the bridge would make them
    handle(NEW_UID, source="nfc")
    expect(latest.locator(".status-word")).to_have_text("Unknown card — enrol", timeout=5000)
    expect(sound).to_have_attribute("data-played", "unknown")
    enrol = page.locator("#enrol")
    expect(enrol.get_by_role("heading")).to_have_text(f"Enrol card {NEW_UID}")
    enrol.locator("input[name=name]").fill("Bea")

    # the next customer's tap does not wipe the enrolment being typed
    handle(UID, source="nfc", stamps=9, now=utcnow() - timedelta(hours=1))
    expect(latest.locator(".stamp-count")).to_have_text("9 of 10", timeout=5000)
    expect(enrol.locator("input[name=name]")).to_have_value("Bea")
    _screenshot(page, tmp_path, "counter-enrol.png")
    # the signup slip goes to the printer in the background; the form stays as typed
    enrol.get_by_role("button", name="Print signup slip").click()
    expect(page.locator("#notice")).to_have_text("Signup slip sent to the printer.", timeout=5000)
    expect(enrol.locator("input[name=name]")).to_have_value("Bea")
    enrol.get_by_role("button", name="Enrol", exact=True).click()
    expect(page.locator("#notice")).to_have_text(
        "Bea is enrolled. Tap the card again for the first stamp.", timeout=5000
    )
    expect(enrol).to_be_hidden()
    assert Card.get(Card.nfc_uid == NEW_UID).member.name == "Bea"

    expect(latest.locator(".member-name")).to_have_text(NAME)
    expect(latest.locator(".stamp.on")).to_have_count(9)
    expect(latest).to_have_class("latest status-stamped")

    handle(UID, source="nfc")
    expect(latest.locator(".unlocked")).to_have_text("Unlocked: Free coffee", timeout=5000)
    expect(latest.locator(".stamp-count")).to_have_text("10 of 10 — card full!")
    expect(page.locator("#history li")).to_have_count(2)
    _screenshot(page, tmp_path, "counter-unlocked.png")

    latest.get_by_role("button", name="Redeem Free coffee").click()
    expect(latest.locator(".status-word")).to_have_text("Redeemed", timeout=5000)
    expect(page.locator("#notice")).to_have_text(f"Redeemed: Free coffee for {NAME}.")
    voucher = Voucher.get(Voucher.member == member["id"])
    assert voucher.redeemed_by == "owner"

    # the customer shows the same voucher again: the second redemption is refused
    page.fill("#token", voucher.code)
    page.locator(".simulator button").click()
    expect(latest).to_have_class("latest status-refused", timeout=5000)
    expect(latest.locator(".message")).to_contain_text("Already redeemed")
    _screenshot(page, tmp_path, "counter-refused.png")

    # the bridge prints a slip (preview printer): its picture appears without a reload
    from appliance import printing
    from appliance.receipts import printer_test_receipt
    from firmware_bridge.print_loop import PrintLoop
    from firmware_bridge.printer import build_printer

    printing.enqueue(printer_test_receipt())
    loop = PrintLoop(build_printer("preview", 80), tmp_path / "var" / "slips", poll_seconds=0)
    loop.initialize()
    assert loop.loop() == "printed"
    slip = page.locator("#printer .last-slip img")
    expect(slip).to_be_visible(timeout=5000)
    expect(page.locator("#printer .printer-status")).to_have_text("Printer ready.")
    page.wait_for_function("document.querySelector('#last-slip').naturalWidth === 576")
    _screenshot(page, tmp_path, "counter-slip.png")

    # a slip the bridge was printing when it stopped turns up on the screen with its buttons
    job = printing.enqueue(printer_test_receipt())
    while (claimed := printing.claim_next()) is not None and claimed.id != job:
        printing.mark_printed(claimed.id)
    printing.recover_interrupted()
    check = page.locator(f"#printer .to-check li[data-job='{job}']")
    expect(check).to_contain_text(f"Printer test (slip {job})", timeout=5000)
    check.get_by_role("button", name="Print again").click()
    expect(page.locator(".notice").first).to_have_text("The slip prints again.", timeout=5000)
    expect(page.locator("#printer .to-check li")).to_have_count(0)


@pytest.fixture
def almaty_shop(init_info):
    """A Kazakh shop on Almaty's clock, set before the web process starts (it reads the
    zone setting every 30 s)."""
    from appliance.shop import save_shop_settings

    save_shop_settings({"language": "kk", "timezone": "Asia/Almaty"}, "owner")


def test_the_counter_screen_speaks_the_shops_language(almaty_shop, server, page, init_info):
    from zoneinfo import ZoneInfo

    from playwright.sync_api import expect

    add_member("Anna", card_uid=UID)
    page.goto(server + "/counter")
    page.fill("#username", "owner")
    page.fill("#password", init_info["owner"]["password"])
    page.click("button[type=submit]")
    _choose_password_if_asked(page, init_info["owner"]["password"])
    expect(page.locator("#live")).to_have_text("тікелей", timeout=5000)
    handle(UID, source="nfc")
    latest = page.locator("#latest")
    expect(latest.locator(".status-word")).to_have_text("Мөр басылды", timeout=5000)
    expect(latest.locator(".stamp-count")).to_have_text("10 ішінен 1")
    handle(NEW_UID, source="nfc")
    expect(page.locator("#enrol h2")).to_have_text(f"{NEW_UID} картасын тіркеу", timeout=5000)
    expect(page.locator("#history .pill")).to_have_text("Мөр басылды")
    # the tap's time on the shop's clock (the browser's own zone here is the machine's, UTC)
    almaty = ZoneInfo("Asia/Almaty")
    shop_times = {e.at.astimezone(almaty).strftime("%H:%M") for e in CounterEvent.select()}
    shown = page.locator("#history .when").all_inner_texts()
    assert shown and all(any(t in text for t in shop_times) for text in shown), shown


def test_a_birthday_gift_waits_on_the_screen_labelled_with_its_last_valid_day(
    server, page, init_info, box
):
    from playwright.sync_api import expect

    from appliance.vouchers import issue_voucher_sql

    member = add_member("Anna", card_uid=UID)
    now = utcnow()
    # valid until the midnight starting the day after tomorrow (exclusive): good through tomorrow
    tomorrow = now.astimezone(box.zone).date() + timedelta(days=1)
    midnight = datetime.combine(tomorrow + timedelta(days=1), dt_time(), tzinfo=box.zone)
    with box.db.atomic():
        issue_voucher_sql(
            box.db, box.code_key, member["id"], "birthday", "Cake", now - timedelta(days=1),
            midnight, f"birthday:{member['id']}",
        )  # fmt: skip
    page.goto(server + "/counter")
    page.fill("#username", "owner")
    page.fill("#password", init_info["owner"]["password"])
    page.click("button[type=submit]")
    _choose_password_if_asked(page, init_info["owner"]["password"])
    expect(page.locator("#live")).to_have_text("live", timeout=5000)
    page.locator("#sound").click()
    handle(UID, source="nfc")
    gift = page.locator("#latest .voucher.birthday")
    expect(gift.locator(".gift-kind")).to_have_text("Birthday gift", timeout=5000)
    expect(gift.locator(".reward")).to_have_text("Cake")
    expect(gift.locator(".until")).to_have_text(f"until {tomorrow:%b} {tomorrow.day}")
    expect(page.locator("#sound")).to_have_attribute("data-played", "birthday")
