"""The owner's birthday pages: settings (gift and announcement), upcoming birthdays, gifts per
month, and the birthday flag on the member page."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

from appliance.automations import load as load_automation
from appliance.birthday_report import member_birthday, monthly_gifts, upcoming_birthdays
from appliance.birthdays import load_gift, run_birthdays
from appliance.members import add_member
from appliance.models import AuditLog, Member, Voucher
from appliance.staff import create_staff
from appliance.vouchers import redeem_voucher

from .conftest import T0
from .test_web import csrf_token, log_in

PAGES = ["/admin/birthdays", "/admin/birthdays/settings"]
FORMS = ["/admin/birthdays/settings", "/admin/birthdays/announcement"]


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def _gift_form(owner, **values):
    token = csrf_token(owner.get("/admin/birthdays/settings"))
    data = {"gift": "Free drink", "kind": "voucher", "lead_days": "7", "after_days": "14",
            "enabled": "on", "csrf_token": token, **values}  # fmt: skip
    return owner.post("/admin/birthdays/settings", data=data, follow_redirects=True)


def test_the_owner_sets_the_gift_and_the_change_is_audited(owner):
    page = _gift_form(owner, gift="  Free   <b>cake</b> ", kind="card", lead_days="3",
                      after_days="10")  # fmt: skip
    assert page.status_code == 200 and "Birthday gift saved." in page.get_data(as_text=True)
    gift = load_gift()
    assert (gift.gift, gift.kind, gift.lead_days, gift.after_days, gift.enabled) == (
        "Free <b>cake</b>", "card", 3, 10, True)  # fmt: skip
    entry = AuditLog.select().where(AuditLog.action == "birthday.settings").get()
    assert entry.actor == "owner" and json.loads(entry.detail)["kind"] == "card"
    html = owner.get("/admin/birthdays/settings").get_data(as_text=True)
    assert 'value="Free &lt;b&gt;cake&lt;/b&gt;"' in html and "<b>cake" not in html
    # unticked: switched off
    _gift_form(owner, enabled="")
    assert load_gift().enabled is False


def test_the_defaults_are_seven_days_before_and_fourteen_after(owner):
    html = owner.get("/admin/birthdays/settings").get_data(as_text=True)
    assert 'name="lead_days" type="number" min="0" max="60" required value="7"' in html
    assert 'name="after_days" type="number" min="0" max="60" required value="14"' in html


def test_bad_gift_settings_are_refused_with_a_sentence(owner):
    for values, sentence in (
        ({"lead_days": "99"}, "0 to 60"),
        ({"lead_days": "soon"}, "whole numbers"),
        ({"gift": "  "}, "1 to 80 characters"),
        ({"kind": "cash"}, "voucher or card"),
    ):
        assert sentence in _gift_form(owner, **values).get_data(as_text=True)
        assert load_gift().gift == "Birthday treat"  # unchanged


def test_the_announcement_is_set_per_channel_and_language(owner, box):
    token = csrf_token(owner.get("/admin/birthdays/settings"))
    page = owner.post("/admin/birthdays/announcement", data={
        "csrf_token": token, "enabled": "on", "channel.email": "on",
        "email..subject": "Happy birthday {{first_name}}", "email..text": "A {{reward}} for you",
        "email.he.subject": "יום הולדת שמח", "email.he.text": "{{reward}} מחכה לך",
        "sms..text": "kept for later, not sent",
    }, follow_redirects=True)  # fmt: skip
    assert "Birthday announcement saved." in page.get_data(as_text=True)
    auto = load_automation("birthday")
    assert auto["enabled"] is True and auto["channels"] == ["email"]
    assert auto["content"]["email"]["he"] == {
        "subject": "יום הולדת שמח",
        "text": "{{reward}} מחכה לך",
    }
    assert auto["content"]["sms"] == {"": {"text": "kept for later, not sent"}}
    entry = AuditLog.select().where(AuditLog.action == "birthday.announcement").get()
    assert json.loads(entry.detail)["channels"] == ["email"]
    html = owner.get("/admin/birthdays/settings").get_data(as_text=True)
    assert "יום הולדת שמח" in html and 'name="channel.email" checked' in html
    # the general automations page (another blueprint) is linked at its birthday automation
    assert 'href="/admin/automations/birthday"' in html

    # a chosen channel without a text is refused, and nothing changes
    token = csrf_token(owner.get("/admin/birthdays/settings"))
    refused = owner.post("/admin/birthdays/announcement", data={
        "csrf_token": token, "enabled": "on", "channel.email": "on", "channel.wallet": "on",
        "email..subject": "Hi", "email..text": "Hello",
    }, follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "The wallet channel needs content." in refused
    assert load_automation("birthday")["channels"] == ["email"]


def test_a_form_without_its_csrf_token_is_refused(owner):
    for path in FORMS:
        assert owner.post(path, data={"gift": "x", "lead_days": "1"}).status_code == 400
    assert load_gift().gift == "Birthday treat"


def test_staff_and_visitors_are_refused_on_every_route(app):
    create_staff("barista", "long-enough-password", "staff", actor="owner")
    staff = app.test_client()
    log_in(staff, "long-enough-password", username="barista")
    data = {"csrf_token": csrf_token(staff.get("/counter")), "gift": "Stolen", "lead_days": "1",
            "after_days": "1", "kind": "voucher"}  # fmt: skip
    visitor = app.test_client()
    for method, path in [("GET", p) for p in PAGES] + [("POST", p) for p in FORMS]:
        assert staff.open(path, method=method, data=data).status_code == 403, path
        assert visitor.open(path, method=method, data=data).status_code in (302, 400, 401), path
    assert load_gift().gift == "Birthday treat"
    assert "/admin/birthdays" not in staff.get("/admin/members").get_data(as_text=True)


def test_upcoming_birthdays_are_the_next_30_days_on_the_shops_calendar(owner, box):
    now = _noon(date(2027, 12, 20))
    add_member("<script>alert(1)</script>", birthday="12-20", now=T0)  # today
    add_member("Jan", birthday="2000-01-18", now=T0)  # in 29 days: the last day shown
    add_member("Too late", birthday="01-19", now=T0)  # in 30 days: not shown
    add_member("Last week", birthday="12-13", now=T0)
    add_member("None", now=T0)
    gone = add_member("Gone", birthday="12-24", now=T0)
    Member.update(erased_at=T0).where(Member.id == gone["id"]).execute()
    report = upcoming_birthdays(now)
    shown = [(m["name"], m["date"], m["in_days"], m["turns"]) for m in report["members"]]
    assert shown == [
        ("<script>alert(1)</script>", "2027-12-20", 0, None),
        ("Jan", "2028-01-18", 29, 28),
    ]
    run_birthdays(now)
    assert upcoming_birthdays(now)["members"][0]["gift"]["state"] == "available"
    html = owner.get("/admin/birthdays").get_data(as_text=True)
    # the page uses today's real date; the hostile name is escaped wherever it appears
    assert "<script>alert(1)</script>" not in html


def test_the_page_lists_todays_birthdays_with_escaped_names(owner, box):
    from appliance.clock import utcnow

    today = utcnow().date()
    add_member("<img src=x onerror=alert(1)>", birthday=f"{today:%m-%d}", now=T0)
    html = owner.get("/admin/birthdays").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "(today)" in html


def test_29_february_birthdays_show_on_28_february_in_common_years(box):
    add_member("Leap", birthday="02-29", now=T0)
    assert upcoming_birthdays(_noon(date(2027, 2, 28)))["members"][0]["date"] == "2027-02-28"
    assert upcoming_birthdays(_noon(date(2028, 2, 28)))["members"][0]["date"] == "2028-02-29"
    assert upcoming_birthdays(_noon(date(2028, 3, 1)))["members"] == []


def test_the_shops_zone_decides_which_day_is_today(box):
    from appliance.shop import save_shop_settings

    add_member("Ken", birthday="05-03", now=T0)
    late = datetime(2027, 5, 2, 15, 30, tzinfo=UTC)  # already 3 May in Tokyo
    assert upcoming_birthdays(late)["members"][0]["in_days"] == 1
    save_shop_settings({"currency": "EUR", "timezone": "Asia/Tokyo"}, actor="owner")
    assert upcoming_birthdays(late)["members"][0]["in_days"] == 0
    # the job follows the same calendar: Tokyo's 3 May opens a 7-day lead window on 10 May
    add_member("Yui", birthday="05-10", now=T0)
    assert [g["member_id"] for g in run_birthdays(late)["issued"]] == [1, 2]


def test_gifts_issued_redeemed_and_expired_are_counted_per_month(box):
    # four members: gifts issued in February, March (2) and April 2027
    for name, bday in (("A", "02-20"), ("B", "03-14"), ("C", "03-20"), ("D", "04-20")):
        add_member(name, birthday=bday, now=T0)
    for day in (date(2027, 2, 13), date(2027, 3, 7), date(2027, 3, 13), date(2027, 4, 13)):
        run_birthdays(_noon(day))
    codes = {v.member_id: v.code for v in Voucher.select()}
    redeem_voucher(codes[1], now=_noon(date(2027, 2, 21)))  # February
    redeem_voucher(codes[3], now=_noon(date(2027, 4, 2)))  # April (valid until 3 April)
    # B's gift ran out unused at the end of 28 March, D's at the end of 4 May
    assert monthly_gifts(_noon(date(2027, 3, 28)), months=3) == [
        {"month": "2027-03", "issued": 2, "redeemed": 0, "expired": 0},
        {"month": "2027-02", "issued": 1, "redeemed": 1, "expired": 0},
        {"month": "2027-01", "issued": 0, "redeemed": 0, "expired": 0},
    ]
    rows = monthly_gifts(_noon(date(2027, 5, 15)), months=4)
    assert rows == [
        {"month": "2027-05", "issued": 0, "redeemed": 0, "expired": 1},  # D's
        {"month": "2027-04", "issued": 1, "redeemed": 1, "expired": 0},
        {"month": "2027-03", "issued": 2, "redeemed": 0, "expired": 1},  # B's
        {"month": "2027-02", "issued": 1, "redeemed": 1, "expired": 0},
    ]
    # a tier reward and a void birthday gift count nowhere
    from appliance.counter import handle

    add_member("Tier", card_uid="04A23B4C5D6E7F", now=T0)
    handle("04A23B4C5D6E7F", "t", stamps=10, now=_noon(date(2027, 5, 1)))
    assert monthly_gifts(_noon(date(2027, 5, 15)), months=4) == rows


def test_the_month_table_is_on_the_page(owner, box):
    from appliance.clock import utcnow

    add_member("Soon", birthday=f"{utcnow().date() + timedelta(days=2):%m-%d}", now=T0)
    run_birthdays()
    html = owner.get("/admin/birthdays").get_data(as_text=True)
    this_month = f"{utcnow():%Y-%m}"
    row = html.split(f'data-month="{this_month}"')[1].split("</tr>")[0]
    assert '<td class="issued">1</td>' in row


def test_the_member_page_flags_the_birthday_and_its_gift(box):
    anna = add_member("Anna", birthday="03-14", now=T0)
    flag = member_birthday(Member.get_by_id(anna["id"]).__data__, _noon(date(2027, 3, 1)))
    assert flag == {"next": "2027-03-14", "in_days": 13, "gift": None}
    run_birthdays(_noon(date(2027, 3, 10)))
    flag = member_birthday(Member.get_by_id(anna["id"]).__data__, _noon(date(2027, 3, 10)))
    assert flag["gift"]["state"] == "available" and flag["gift"]["reward"] == "Birthday treat"
    later = member_birthday(Member.get_by_id(anna["id"]).__data__, _noon(date(2027, 3, 29)))
    assert later["gift"]["state"] == "expired" and later["next"] == "2028-03-14"
    assert member_birthday({"id": 9, "birthday_month": None}) is None


def test_staff_see_the_birthday_flag_on_the_member_page(app, box):
    from appliance.clock import utcnow

    today = utcnow().date()
    anna = add_member("<i>Anna</i>", birthday=f"{today + timedelta(days=3):%m-%d}", now=T0)
    plain = add_member("No birthday", now=T0)
    run_birthdays()
    save = Voucher.get()
    Voucher.update(reward="<b>Free drink</b>").where(Voucher.id == save.id).execute()
    create_staff("barista", "long-enough-password", "staff", actor="owner")
    staff = app.test_client()
    log_in(staff, "long-enough-password", username="barista")
    html = staff.get(f"/admin/members/{anna['id']}").get_data(as_text=True)
    flag = html.split('class="notice birthday-flag')[1].split("</p>")[0]
    assert "Birthday in 3 days" in flag and "Birthday gift available" in flag
    # valid through the 14th day after the birthday: that day is shown, not the midnight after
    from babel.dates import format_date

    last = format_date(today + timedelta(days=17), "medium", locale="en")
    assert f"until {last}" in flag and "00:00" not in flag, flag
    assert "&lt;b&gt;Free drink&lt;/b&gt;" in flag and "<b>Free" not in flag
    assert "birthday-flag" not in staff.get(f"/admin/members/{plain['id']}").get_data(as_text=True)


def test_the_pages_read_in_hebrew(owner, box):
    from appliance.clock import utcnow

    add_member("Dana", birthday=f"{utcnow().date() + timedelta(days=3):%m-%d}", now=T0)
    run_birthdays()
    pages = {path: owner.get(f"{path}?lang=he") for path in [*PAGES, "/admin/status"]}
    assert all(page.status_code == 200 for page in pages.values())
    assert "ימי הולדת ב-30 הימים הקרובים" in pages["/admin/birthdays"].get_data(as_text=True)
    assert "מתנת יום הולדת" in pages["/admin/birthdays/settings"].get_data(as_text=True)
    assert "שעון" in pages["/admin/status"].get_data(as_text=True)
    member = owner.get("/admin/members/1?lang=he").get_data(as_text=True)
    assert "יום הולדת בעוד 3 ימים" in member
