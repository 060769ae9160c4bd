"""Birthday gifts over whole calendars: one per member per birthday year, in the shop's zone."""

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from appliance import box as box_mod
from appliance.birthdays import BirthdayGift, birthday_in, run_birthdays, save_gift
from appliance.counter import handle
from appliance.members import add_member
from appliance.models import Member, Outbox, Voucher
from appliance.vouchers import redeem_voucher

from .conftest import T0


def _members_born_every_day(year_for_ids=2000):
    """One member per calendar day, 29 February included (366 members)."""
    born = {}
    day = date(year_for_ids, 1, 1)
    while day.year == year_for_ids:
        m = add_member(f"B{day:%m%d}", birthday=f"{day:%m-%d}", now=T0)
        born[m["id"]] = (day.month, day.day)
        day += timedelta(days=1)
    return born


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


@pytest.mark.slow
@pytest.mark.parametrize("year", [2027, 2028])  # a common year and a leap year
def test_every_member_gets_one_gift_on_the_first_day_of_their_window(box, year):
    save_gift(BirthdayGift("Free drink", "voucher", 7, 14), now=T0)
    born = _members_born_every_day()
    first_issue = {}
    day = date(year, 1, 1) - timedelta(days=20)
    while day <= date(year, 12, 31):
        for g in run_birthdays(_noon(day))["issued"]:
            key = (g["member_id"], g["valid_from"][:4])
            assert key not in first_issue, f"second gift for {key} on {day}"
            first_issue[key] = (day, g)
        day += timedelta(days=1)
    for member_id, (month, dom) in born.items():
        b = birthday_in(year, month, dom)
        if b - timedelta(days=7) < date(year, 1, 1) - timedelta(days=20):
            continue  # the window opened before the sweep began
        issued_on, gift = first_issue[(member_id, str((b - timedelta(days=7)).year))]
        assert issued_on == b - timedelta(days=7), (month, dom)
        assert gift["valid_from"] == f"{b - timedelta(days=7)}T00:00:00Z"
        assert gift["valid_until"] == f"{b + timedelta(days=15)}T00:00:00Z"
    leap_baby = next(i for i, md in born.items() if md == (2, 29))
    expected = date(year, 2, 29 if year == 2028 else 28)
    assert first_issue[(leap_baby, str(year))][0] == expected - timedelta(days=7)


def test_a_second_run_and_a_catch_up_issue_nothing_twice_and_skip_nobody(box):
    add_member("Anna", birthday="03-14", now=T0)
    add_member("Ben", birthday="03-20", now=T0)
    add_member("No birthday", now=T0)
    # the box was off from 1 to 12 March: the catch-up run finds both windows open
    result = run_birthdays(_noon(date(2027, 3, 13)))
    assert sorted(g["member_id"] for g in result["issued"]) == [1, 2]
    again = run_birthdays(_noon(date(2027, 3, 13)))
    assert again["issued"] == [] and again["skipped"] == 2
    assert run_birthdays(_noon(date(2027, 3, 25)))["issued"] == []
    assert Voucher.select().where(Voucher.kind == "birthday").count() == 2
    assert Outbox.select().where(Outbox.kind == "birthday_gift").count() == 2


def test_the_year_end_wraps_around(box):
    add_member("Jan", birthday="01-02", now=T0)
    gifts = run_birthdays(_noon(date(2026, 12, 26)))["issued"]
    assert gifts[0]["valid_from"] == "2026-12-26T00:00:00Z"
    assert gifts[0]["valid_until"] == "2027-01-17T00:00:00Z"
    assert Voucher.get().source_key == "birthday:1:2027"
    # the next birthday year gets its own gift
    assert len(run_birthdays(_noon(date(2027, 12, 26)))["issued"]) == 1


def test_the_shops_date_not_utcs_decides(box):
    tokyo = box_mod.start(replace(box.settings, timezone="Asia/Tokyo"))
    add_member("Ken", birthday="05-10", now=T0)
    # 15:30 UTC on 2 May is already 3 May in Tokyo: the window (lead 7) opens there
    late = datetime(2027, 5, 2, 15, 30, tzinfo=UTC)
    gift = run_birthdays(late, box=tokyo)["issued"][0]
    start = datetime(2027, 5, 3, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert gift["valid_from"] == start.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert run_birthdays(datetime(2027, 5, 2, 14, 0, tzinfo=UTC), box=tokyo)["issued"] == []


def test_erased_members_and_members_without_birthday_get_nothing(box):
    add_member("Gone", birthday="03-14", now=T0)
    Member.update(erased_at=T0).execute()
    assert run_birthdays(_noon(date(2027, 3, 10)))["issued"] == []


def test_a_member_who_joins_inside_the_window_gets_this_years_gift(box):
    run_birthdays(_noon(date(2027, 3, 10)))
    add_member("Late", birthday="03-14", now=T0)
    assert len(run_birthdays(_noon(date(2027, 3, 20)))["issued"]) == 1


def test_the_counter_shows_the_gift_and_redeems_it_once(box):
    add_member("Anna", birthday="03-14", card_uid="04A23B4C5D6E7F", now=T0)
    gift = run_birthdays(_noon(date(2027, 3, 10)))["issued"][0]
    tap = handle("04A23B4C5D6E7F", "t", now=_noon(date(2027, 3, 12)))
    assert tap.birthday == {
        "gift": "Birthday treat",
        "code": gift["voucher_code"],
        "valid_until": gift["valid_until"],
    }
    # valid until the midnight after 28 March (14 days after the birthday): through 28 Mar
    assert "Birthday gift available: Birthday treat, valid through 28 Mar." in tap.message
    scan = handle(gift["voucher_code"], "scanner", now=_noon(date(2027, 3, 12)))
    assert (scan.status, scan.message) == (
        "voucher",
        "Anna: birthday gift Birthday treat, valid through 28 Mar. Redeem it?",
    )
    when = _noon(date(2027, 3, 14))
    assert redeem_voucher(gift["voucher_code"], now=when).status == "redeemed"
    again = redeem_voucher(gift["voucher_code"], now=when)
    assert again.reason == "already_redeemed"
    assert handle("04A23B4C5D6E7F", "t", now=_noon(date(2027, 3, 15))).birthday is None


def test_an_expired_gift_says_so_at_the_counter(box):
    add_member("Anna", birthday="03-14", now=T0)
    code = run_birthdays(_noon(date(2027, 3, 10)))["issued"][0]["voucher_code"]
    scan = handle(code, "t", now=_noon(date(2027, 3, 29)))
    assert scan.status == "refused" and scan.reason == "expired"


def test_the_cli_runs_the_job_and_a_card_kind_gift_has_no_code(box, stampbox):
    add_member("Anna", birthday="03-14", now=T0)
    assert stampbox("birthdays", "set", "--gift", "Free drink", "--kind", "card").returncode == 0
    out = json.loads(
        stampbox("birthdays", "run", "--as-of", "2027-03-10T12:00:00Z", "--json").stdout
    )
    assert out["skipped"] == 0 and len(out["issued"]) == 1
    issued = out["issued"][0]
    assert set(issued) == {"member_id", "external_id", "voucher_code", "valid_from", "valid_until"}
    assert issued["voucher_code"] is None
    again = json.loads(
        stampbox("birthdays", "run", "--as-of", "2027-03-10T13:00:00Z", "--json").stdout
    )
    assert again["issued"] == [] and again["skipped"] == 1
    bad = stampbox("birthdays", "set", "--lead-days", "99")
    assert bad.returncode == 2 and "0 to 60" in bad.stderr


def test_the_gift_is_announced_once_per_birthday_year_on_each_enabled_channel(box):
    import json as json_mod

    from appliance import automations, outbox

    automations.install()
    automations.configure("birthday", enabled=True, channel_names=["email", "sms"], now=T0)
    add_member("Anna", "anna@example.com", "+49 170 1234567", birthday="03-14", now=T0)
    when = _noon(date(2027, 3, 10))
    code = run_birthdays(when)["issued"][0]["voucher_code"]
    assert outbox.dispatch_due(box.db, when) == 1
    run_birthdays(when + timedelta(days=1))  # a second run: no second gift, no second message
    outbox.dispatch_due(box.db, when + timedelta(days=1))
    messages = Outbox.select().where(Outbox.kind == "message").order_by(Outbox.channel)
    assert [(m.channel, m.event_key) for m in messages] == [
        ("email", "birthday:1:2027"),
        ("sms", "birthday:1:2027"),
    ]
    payload = json_mod.loads(messages[0].payload)
    assert payload["automation"] == "birthday" and payload["voucher"]["code"] == code
    preview = automations.preview("birthday", 1, now=when)
    assert "Happy birthday, Anna!" in json_mod.dumps(preview)


def test_the_slip_and_the_beep_mark_a_birthday_gift(box):
    from appliance.receipts import voucher_receipt_for_code
    from firmware_bridge.counter_loop import signal_for
    from firmware_bridge.slips import render_escpos

    add_member("Anna", birthday="03-14", card_uid="04A23B4C5D6E7F", now=T0)
    code = run_birthdays(_noon(date(2027, 3, 10)))["issued"][0]["voucher_code"]
    slip = voucher_receipt_for_code(code, now=_noon(date(2027, 3, 12)))
    assert (slip.kind, slip.title) == ("birthday", "Birthday gift")
    lines = slip.text().splitlines()
    assert "Happy birthday, Anna!" in lines and "Birthday treat" in lines
    # valid through 28 March (the gift ends at that day's midnight), not "to 29 Mar"
    assert "Valid 07 Mar 2027 to 28 Mar 2027" in lines
    assert "For Anna" not in lines
    assert b"Happy birthday, Anna!" in render_escpos(slip, 80)
    # the tap that shows the gift plays the birthday pattern; a full card's reward wins
    tap = handle("04A23B4C5D6E7F", "t", now=_noon(date(2027, 3, 12)))
    assert signal_for(tap) == "birthday"
    full = handle("04A23B4C5D6E7F", "t", stamps=10, now=_noon(date(2027, 3, 13)))
    assert full.unlocked and signal_for(full) == "reward"


def test_a_tier_voucher_slip_still_reads_for_the_member_with_its_last_day():
    from appliance.receipts import voucher_receipt

    slip = voucher_receipt(
        {"code": "V" + "A" * 15, "kind": "tier", "reward": "Free coffee",
         "valid_from": "2027-03-01T10:30:00Z", "valid_until": "2027-05-30T10:30:00Z"},
        "Ben", now=T0, zone=ZoneInfo("UTC"),
    )  # fmt: skip
    lines = slip.text().splitlines()
    assert slip.kind == "voucher" and "For Ben" in lines
    assert "Valid 01 Mar 2027 to 30 May 2027" in lines


def test_the_periodic_job_waits_for_a_synchronised_clock(box, cli_env, tmp_path):
    """The worker's hourly task (Huey crontab) issues nothing until NTP has set the clock."""
    import subprocess
    import sys

    from .conftest import ROOT

    marker = tmp_path / "synchronized"
    add_member("Today", birthday=f"{datetime.now(UTC):%m-%d}", now=T0)
    script = (
        "import json; from datetime import datetime, timedelta, UTC;"
        " from appliance import jobs;"
        " task = jobs.birthday_gifts;"
        " hours = [datetime(2027, 1, 1, h, m) for h in range(24) for m in (0, 5)];"
        " fires = [t.strftime('%H:%M') for t in hours if task.s().validate_datetime(t)];"
        " print(json.dumps({'issued': task.call_local(), 'fires': fires}))"
    )
    env = {**cli_env, "STAMPBOX_CLOCK_SYNC_FILE": str(marker)}

    def run():
        out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    waiting = run()
    assert waiting["issued"] == 0 and Voucher.select().count() == 0
    assert waiting["fires"] == [f"{h:02d}:05" for h in range(24)]  # hourly: every zone's midnight
    marker.touch()
    assert run()["issued"] == 1 and Voucher.select().count() == 1


def test_the_counter_screen_redeems_a_gift_once_and_says_when_one_expired(settings, box):
    from appliance.clock import utcnow
    from appliance.models import AuditLog
    from appliance.staff import create_staff

    from .test_web import csrf_token, log_in, make_app

    today = utcnow().date()
    add_member("Now", birthday=f"{today:%m-%d}", now=T0)
    add_member("Last month", birthday=f"{today - timedelta(days=40):%m-%d}", now=T0)
    fresh = run_birthdays()["issued"][0]["voucher_code"]
    stale = run_birthdays(_noon(today - timedelta(days=40)))["issued"][0]["voucher_code"]
    create_staff("barista", "long-enough-password", "staff", actor="owner")
    staff = make_app(settings).test_client()
    log_in(staff, "long-enough-password", username="barista")
    token = csrf_token(staff.get("/counter"))

    def redeem(code):
        return staff.post("/counter/redeem", data={"code": code, "csrf_token": token},
                          headers={"Accept": "application/json"}).json  # fmt: skip

    first = redeem(fresh)
    assert first["status"] == "redeemed" and first["voucher"]["kind"] == "birthday"
    again = redeem(fresh)
    assert again["reason"] == "already_redeemed" and "Already redeemed" in again["message"]
    expired = redeem(stale)
    assert expired["reason"] == "expired" and "Expired on" in expired["message"]
    entries = AuditLog.select().where(AuditLog.action == "voucher.redeem")
    assert [(e.actor, json.loads(e.detail)["source"]) for e in entries] == [
        ("barista", "counter-screen")
    ]


def test_a_card_kind_gift_shows_when_the_card_is_tapped(box):
    save_gift(BirthdayGift("Free cake", "card", 7, 14), now=T0)
    add_member("Anna", birthday="03-14", card_uid="04A23B4C5D6E7F", now=T0)
    issued = run_birthdays(_noon(date(2027, 3, 10)))["issued"][0]
    assert issued["voucher_code"] is None
    tap = handle("04A23B4C5D6E7F", "t", now=_noon(date(2027, 3, 14)))
    assert (
        tap.birthday["gift"] == "Free cake"
        and tap.birthday["valid_until"] == "2027-03-29T00:00:00Z"
    )
    assert "Birthday gift available: Free cake, valid through 28 Mar." in tap.message
    assert redeem_voucher(tap.birthday["code"], now=_noon(date(2027, 3, 14))).status == "redeemed"


def test_the_announcement_reaches_consenting_members_in_their_language_once(settings):
    from appliance import automations, outbox
    from appliance.birthdays import save_announcement
    from appliance.channels.delivery import deliver_all
    from appliance.provision import init_box

    from .test_campaigns import Sink, SmtpServer, smtp_settings

    sink = Sink()
    server = SmtpServer(sink)
    server.start()
    try:
        init_box(smtp_settings(settings, server.port, shop_name="Café Anna"), now=T0)
        box = box_mod.current()
        automations.install()
        text = "{{reward}}: {{voucher_code}}"
        save_announcement(True, ["email"], {"email": {
            "": {"subject": "Happy birthday {{first_name}}", "text": text},
            "he": {"subject": "יום הולדת שמח {{first_name}}", "text": text},
        }}, actor="owner", now=T0)  # fmt: skip
        dana = add_member("Dana", "dana@example.com", birthday="03-14", locale="he", now=T0)
        add_member("Ben", "ben@example.com", birthday="03-14", now=T0)  # no consent
        Member.update(email_consent_at=T0).where(Member.id == dana["id"]).execute()
        for day in (10, 11):  # the second day issues and sends nothing new
            when = _noon(date(2027, 3, day))
            run_birthdays(when)
            outbox.dispatch_due(box.db, when)
            deliver_all(box, when)
        assert [(to, m["Subject"]) for to, m in sink.messages] == [
            (["dana@example.com"], "יום הולדת שמח Dana")
        ]
        states = {o.member_id: o.state for o in Outbox.select().where(Outbox.kind == "message")}
        assert states == {dana["id"]: "sent", dana["id"] + 1: "suppressed"}
    finally:
        server.stop()
        box_mod.stop()


def test_a_gift_on_the_card_is_mailed_without_a_code_or_qr(settings):
    import dataclasses

    from appliance import automations, outbox
    from appliance.birthdays import load_gift, save_gift
    from appliance.channels.delivery import deliver_all
    from appliance.models import Voucher
    from appliance.provision import init_box

    from .test_campaigns import Sink, SmtpServer, smtp_settings

    sink = Sink()
    server = SmtpServer(sink)
    server.start()
    try:
        init_box(smtp_settings(settings, server.port), now=T0)
        box = box_mod.current()
        automations.install()
        save_gift(dataclasses.replace(load_gift(), gift="Free cake", kind="card"), now=T0)
        automations.configure("birthday", enabled=True, channel_names=["email"], now=T0)
        dana = add_member("Dana", "dana@example.com", birthday="03-14", now=T0)
        Member.update(email_consent_at=T0).where(Member.id == dana["id"]).execute()
        when = _noon(date(2027, 3, 10))
        run_birthdays(when)
        outbox.dispatch_due(box.db, when)
        deliver_all(box, when)
        [(_, message)] = sink.messages
        code = Voucher.get(Voucher.member == dana["id"]).code
        body = message.as_string()
        assert "Free cake" in str(message.get_body(("plain",)).get_content())
        assert code not in body and code.replace("-", "") not in body
        assert not [p for p in message.walk() if p.get_content_type() == "image/png"]
    finally:
        server.stop()
        box_mod.stop()


def test_the_cli_lists_upcoming_birthdays_and_the_months(box, stampbox):
    add_member("Anna <3", birthday="03-14", now=T0)
    add_member("Later", birthday="05-01", now=T0)
    run_birthdays(_noon(date(2027, 3, 10)))
    out = stampbox("birthdays", "upcoming", "--as-of", "2027-03-10T12:00:00Z", "--json")
    report = json.loads(out.stdout)
    assert report["total"] == 1 and report["members"][0]["name"] == "Anna <3"
    assert report["members"][0]["gift"]["state"] == "available"
    assert report["members"][0]["gift"]["valid_until"] == "2027-03-29T00:00:00Z"
    text = stampbox("birthdays", "upcoming", "--days", "60", "--as-of", "2027-03-10T12:00:00Z")
    assert "2 birthday(s) in the 60 days from 2027-03-10." in text.stdout
    months = json.loads(
        stampbox("birthdays", "months", "--months", "2", "--as-of", "2027-03-31", "--json").stdout
    )
    assert months == {"months": [
        {"month": "2027-03", "issued": 1, "redeemed": 0, "expired": 1},
        {"month": "2027-02", "issued": 0, "redeemed": 0, "expired": 0},
    ]}  # fmt: skip
