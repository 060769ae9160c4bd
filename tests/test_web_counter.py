"""The counter screen: dev-mode simulator, Redeem, enrolment of an unknown card."""

from __future__ import annotations

import pytest

from appliance.counter import handle
from appliance.members import add_member
from appliance.models import CounterEvent, Member, Voucher

from .test_web import csrf_token, log_in, make_app

UID = "04A23B4C5D6E7F"
JSON = {"Accept": "application/json"}


def _screen_client(settings, init_info, **config):
    client = make_app(settings, **config).test_client()
    log_in(client, init_info["owner"]["password"])
    return client


@pytest.fixture
def screen(settings, init_info):
    return _screen_client(settings, init_info)


@pytest.fixture
def dev_screen(settings, init_info):
    return _screen_client(settings, init_info, dev_mode=True)


def _full_card():
    """A member whose card just completed: one voucher waiting. Returns its code."""
    add_member("Anna", card_uid=UID)
    result = handle(UID, "test", stamps=10)
    return result.unlocked[0]["code"]


def test_the_simulator_is_only_there_in_development_mode(screen, dev_screen):
    assert "Simulate a tap" not in screen.get("/counter").get_data(as_text=True)
    assert "Simulate a tap" in dev_screen.get("/counter").get_data(as_text=True)


def test_simulating_a_tap_outside_development_mode_is_not_found(screen):
    token = csrf_token(screen.get("/counter"))
    response = screen.post("/counter/simulate", data={"token": UID, "csrf_token": token})
    assert response.status_code == 404


def test_a_simulated_tap_goes_through_the_counter_loop(dev_screen):
    add_member("Anna", card_uid=UID)
    token = csrf_token(dev_screen.get("/counter"))
    response = dev_screen.post(
        "/counter/simulate", data={"token": UID, "stamps": "3", "csrf_token": token}, headers=JSON
    )
    assert response.status_code == 200
    assert response.json["status"] == "stamped"
    assert response.json["card"]["stamps"] == 3
    event = CounterEvent.select().order_by(CounterEvent.id.desc()).get()
    assert (event.source, event.status) == ("simulator", "stamped")


def test_the_simulator_refuses_a_bad_stamp_count_with_a_sentence(dev_screen):
    token = csrf_token(dev_screen.get("/counter"))
    response = dev_screen.post(
        "/counter/simulate", data={"token": UID, "stamps": "99", "csrf_token": token}, headers=JSON
    )
    assert response.status_code == 400
    assert response.json["message"].startswith("Stamps:")


def test_redeem_from_the_screen_works_once_and_names_the_staff(screen):
    code = _full_card()
    token = csrf_token(screen.get("/counter"))
    data = {"code": code, "csrf_token": token}
    first = screen.post("/counter/redeem", data=data, headers=JSON)
    assert first.json["status"] == "redeemed"
    assert first.json["message"] == "Redeemed: Free coffee for Anna."
    second = screen.post("/counter/redeem", data=data, headers=JSON)
    assert (second.json["status"], second.json["reason"]) == ("refused", "already_redeemed")
    assert Voucher.get().redeemed_by == "owner"
    sources = [e.source for e in CounterEvent.select().order_by(CounterEvent.id)]
    assert sources[-2:] == ["counter-screen", "counter-screen"]


def test_redeem_without_javascript_redirects_back_with_the_result(screen):
    code = _full_card()
    token = csrf_token(screen.get("/counter"))
    response = screen.post(
        "/counter/redeem", data={"code": code, "csrf_token": token}, follow_redirects=True
    )
    assert "Redeemed: Free coffee for Anna." in response.get_data(as_text=True)


def test_redeem_without_the_csrf_token_is_refused(screen):
    code = _full_card()
    response = screen.post("/counter/redeem", data={"code": code}, headers=JSON)
    assert response.status_code == 400
    assert "Reload the page" in response.json["error"]
    assert Voucher.get().redeemed_at is None


def test_an_unknown_card_can_be_enrolled_from_the_screen(screen):
    assert handle(UID, "test").status == "unknown_card"
    token = csrf_token(screen.get("/counter"))
    response = screen.post(
        "/counter/enrol",
        data={"card_uid": UID, "name": "Bea", "birthday": "05-17", "csrf_token": token},
        headers=JSON,
    )
    assert response.status_code == 200
    assert response.json["message"] == "Bea is enrolled. Tap the card again for the first stamp."
    assert handle(UID, "test").status == "stamped"


def test_enrolment_problems_are_sentences(screen):
    token = csrf_token(screen.get("/counter"))
    response = screen.post(
        "/counter/enrol",
        data={"card_uid": UID, "birthday": "13-40", "csrf_token": token},
        headers=JSON,
    )
    assert response.status_code == 400
    assert response.json["message"] == "Birthday '13-40' is not a date."
    assert Member.select().count() == 0


def test_hostile_names_are_shown_as_text(screen):
    token = csrf_token(screen.get("/counter"))
    screen.post(
        "/counter/enrol",
        data={"card_uid": UID, "name": "<script>alert(1)</script>", "csrf_token": token},
    )
    page = screen.get("/counter").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; is enrolled" in page
    assert "<script>alert(1)" not in page


def test_the_screen_speaks_the_shops_language(screen):
    import html
    import json
    import re

    from appliance.shop import save_shop_settings

    save_shop_settings({"language": "he", "currency": "ILS"}, "owner")
    page = screen.get("/counter").get_data(as_text=True)
    assert '<html lang="he" dir="rtl">' in page
    assert "ממתין להצמדה" in page  # "Waiting for a tap"
    texts = json.loads(html.unescape(re.search(r"data-texts='([^']*)'", page)[1]))
    assert texts["labels"]["stamped"] == "הוחתם"
    assert texts["count"] == "{count} מתוך {needed}"
    token = csrf_token(screen.get("/counter"))
    response = screen.post(
        "/counter/enrol", data={"card_uid": UID, "name": "Bea", "csrf_token": token}, headers=JSON
    )
    assert response.json["message"] == "Bea נרשם/ה. הצמידו שוב את הכרטיס לחותמת הראשונה."
    chinese = screen.get("/counter?lang=zh").get_data(as_text=True)
    assert '<html lang="zh-Hans" dir="ltr">' in chinese and "等待刷卡" in chinese


def test_the_screen_is_told_the_shops_time_zone(screen):
    from appliance.shop import save_shop_settings

    save_shop_settings({"timezone": "Asia/Almaty"}, "owner")
    assert 'data-zone="Asia/Almaty"' in screen.get("/counter").get_data(as_text=True)
    save_shop_settings({"timezone": "Pacific/Kiritimati"}, "owner")
    assert 'data-zone="Pacific/Kiritimati"' in screen.get("/counter").get_data(as_text=True)


@pytest.mark.parametrize("lang", ["he", "kk", "zh"])
def test_every_word_of_the_counter_screen_is_translated(lang):
    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    from .conftest import ROOT

    found = set()
    for name, method in (("counter.py", "python"), ("templates/counter/screen.html", "jinja2"),
                         ("templates/counter/_printer.html", "jinja2")):  # fmt: skip
        keywords = {"_": None, "_l": None}
        for _line, message, *_ in extract_from_file(method, str(ROOT / "web" / name), keywords):
            found.add(message)
    with open(ROOT / f"web/translations/{lang}/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh, locale=lang)
    assert len(found) > 40
    assert sorted(m for m in found if not (catalog.get(m) and catalog.get(m).string)) == []


def test_the_screen_gets_a_gifts_last_valid_day_in_the_shops_zone(box, screen):
    """A gift valid until midnight (exclusive) is good through the day before: the screen is
    told that day, worked out in the shop's zone (here 5 hours ahead of UTC)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from appliance.shop import save_shop_settings
    from appliance.vouchers import issue_voucher_sql
    from web import feed

    from .conftest import T0

    save_shop_settings({"timezone": "Asia/Almaty"}, "owner")
    zone = ZoneInfo("Asia/Almaty")
    member = add_member("Anna", card_uid=UID, now=T0 - timedelta(days=30))
    midnight = datetime(2026, 11, 29, tzinfo=zone)  # 28 Nov 19:00 UTC
    with box.db.atomic():
        issue_voucher_sql(
            box.db, box.code_key, member["id"], "birthday", "Cake", T0 - timedelta(days=1),
            midnight, f"birthday:{member['id']}:2026",
        )  # fmt: skip
    result = handle(UID, "test", now=T0)
    (event,) = feed.events_after(result.event_id - 1)
    (waiting,) = event["vouchers"]
    assert (waiting["kind"], waiting["valid_through"]) == ("birthday", "2026-11-28")
    assert event["birthday"]["valid_through"] == "2026-11-28"
    assert event["signal"] == "birthday"
    # the admin's member page says the same day
    page = screen.get(f"/admin/members/{member['id']}").get_data(as_text=True)
    assert "until Nov 28, 2026" in page and "Nov 29, 2026" not in page


def test_the_screen_labels_a_birthday_gift_in_the_shops_language(screen):
    import html
    import json
    import re

    from appliance.shop import save_shop_settings

    save_shop_settings({"language": "he"}, "owner")
    page = screen.get("/counter").get_data(as_text=True)
    texts = json.loads(html.unescape(re.search(r"data-texts='([^']*)'", page)[1]))
    assert texts["birthday_gift"] == "מתנת יום הולדת"


def test_the_web_adapter_does_not_import_the_device_adapter():
    """Beep patterns and the outcome-to-signal rule are the core's: adapters do not share code
    with each other."""
    import subprocess
    import sys

    from .conftest import ROOT

    code = "import sys, web; web.create_app; print('firmware_bridge' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
