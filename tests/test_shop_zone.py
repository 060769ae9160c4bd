"""The shop's time zone (admin settings) is what people read: slips, counter messages, the
dashboard's "today". Tested with a zone whose date differs from UTC's."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from appliance.counter import handle
from appliance.dashboard import build_dashboard
from appliance.db import database
from appliance.members import add_member
from appliance.models import PrintJob, ShopSetting
from appliance.receipts import voucher_receipt
from appliance.shop import load_shop_settings, save_shop_settings
from appliance.shop_zone import ShopZone
from appliance.vouchers import redeem_voucher

from .test_web import log_in, make_app

UID = "04A23B4C5D6E7F"
# noon in UTC on the 24th is 02:00 on the 25th at Kiritimati (UTC+14)
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def kiritimati(box):
    values = {**vars(load_shop_settings()), "timezone": "Pacific/Kiritimati"}
    save_shop_settings(values, actor="owner", now=NOON)
    return box


def _texts(receipt) -> str:
    return json.dumps(receipt.to_dict(), ensure_ascii=False)


def test_without_a_setting_the_box_zone_is_used(box):
    assert isinstance(box.zone, ShopZone)
    assert NOON.astimezone(box.zone).hour == 12  # the test box runs on UTC


def test_a_voucher_slip_is_dated_in_the_shop_zone(kiritimati):
    add_member("Anna", card_uid=UID, now=NOON - timedelta(days=1))
    result = handle(UID, "test", stamps=10, now=NOON)
    # the slip the tap itself queued for the printer
    (slip,) = [job.document for job in PrintJob.select()]
    assert "25 Nov 2026 02:00" in slip and "24 Nov" not in slip
    assert "Valid 25 Nov 2026" in slip
    reprint = _texts(voucher_receipt(result.unlocked[0], "Anna", now=NOON, zone=kiritimati.zone))
    assert "25 Nov 2026 02:00" in reprint


def test_counter_messages_say_shop_time(kiritimati):
    add_member("Anna", card_uid=UID, now=NOON - timedelta(days=1))
    voucher = handle(UID, "test", stamps=10, now=NOON).unlocked[0]
    redeem_voucher(voucher["code"], now=NOON, by="owner")
    again = redeem_voucher(voucher["code"], now=NOON + timedelta(minutes=5))
    assert "25 Nov 2026 02:00" in again.message
    cooldown = handle(UID, "test", now=NOON + timedelta(minutes=1))
    assert cooldown.status == "cooldown" and "02:" in cooldown.message, cooldown.message


def test_the_dashboard_today_is_the_shop_day(kiritimati):
    add_member("Anna", card_uid=UID, now=NOON - timedelta(days=3))
    handle(UID, "test", now=NOON)
    board = build_dashboard(now=NOON, zone=kiritimati.zone)
    assert board.days[-1] == date(2026, 11, 25)
    assert board.today("visits") == 1


def test_the_admin_pages_show_shop_time(settings, kiritimati, init_info):
    add_member("Anna", card_uid=UID, now=NOON)
    handle(UID, "test", now=NOON)
    client = make_app(settings).test_client()
    log_in(client, init_info["owner"]["password"])
    page = client.get("/admin/members/1").get_data(as_text=True)
    assert "Nov 25, 2026" in page and "Nov 24, 2026" not in page


def test_a_change_saved_by_another_process_is_followed(kiritimati):
    assert NOON.astimezone(kiritimati.zone).day == 25
    # another process (a web worker) saved a new zone: this one reads it at its next refresh
    with database.atomic():
        ShopSetting.update(value="America/Los_Angeles").where(
            ShopSetting.key == "timezone"
        ).execute()
    kiritimati.zone.invalidate()  # what REFRESH_SECONDS passing does
    assert NOON.astimezone(kiritimati.zone).hour == 4
    assert kiritimati.zone.key == "America/Los_Angeles"
