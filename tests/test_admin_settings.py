"""The shop's settings page: name, currency, default language and privacy text."""

from __future__ import annotations

from appliance.members import add_member
from appliance.models import AuditLog
from appliance.shop import load_shop_settings

from .test_web import csrf_token, log_in, make_app


def _owner(settings, init_info):
    client = make_app(settings).test_client()
    log_in(client, init_info["owner"]["password"])
    return client


def test_the_owner_sets_the_shop_and_customers_see_it(settings, init_info):
    owner = _owner(settings, init_info)
    token = csrf_token(owner.get("/admin/settings"))
    owner.post("/admin/settings", data={
        "shop_name": "Café <Aroma>", "currency": "ils", "language": "he",
        "privacy_text": "We keep only what the card needs.", "csrf_token": token})  # fmt: skip
    shop = load_shop_settings()
    assert (shop.shop_name, shop.currency, shop.language) == ("Café <Aroma>", "ILS", "he")
    assert AuditLog.select().where(AuditLog.action == "shop.settings").exists()
    customer = make_app(settings).test_client()
    # a browser asking for a language we do not have gets the shop's language
    page = customer.get("/join", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="he" dir="rtl">' in page
    assert "Café &lt;Aroma&gt;" in page and "We keep only what the card needs." in page


def test_money_and_dates_follow_the_locale(settings, init_info):
    from appliance.counter import handle

    owner = _owner(settings, init_info)
    token = csrf_token(owner.get("/admin/settings"))
    owner.post("/admin/settings", data={"shop_name": "", "currency": "EUR", "language": "en",
                                         "privacy_text": "", "csrf_token": token})  # fmt: skip
    member = add_member("Anna", card_uid="04A23B4C5D6E7F")
    handle("04A23B4C5D6E7F", "test", amount_cents=123456)
    english = owner.get(f"/admin/members/{member['id']}?lang=en").get_data(as_text=True)
    assert "€1,234.56" in english
    hebrew = owner.get(f"/admin/members/{member['id']}?lang=he").get_data(as_text=True)
    assert "1,234.56" in hebrew and "€" in hebrew and "€1,234.56" not in hebrew


def test_a_bad_currency_is_refused_with_a_sentence(settings, init_info):
    owner = _owner(settings, init_info)
    token = csrf_token(owner.get("/admin/settings"))
    page = owner.post("/admin/settings", data={"currency": "XYZW", "language": "en",
                                                "csrf_token": token},
                      follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "is not a currency code" in page
    assert load_shop_settings().currency == "EUR"


def test_the_counter_offers_a_signup_slip_for_an_unknown_card(settings, init_info):
    owner = _owner(settings, init_info)
    page = owner.get("/counter").get_data(as_text=True)
    assert 'formaction="/admin/enrolment-slip"' in page
    response = owner.post(
        "/admin/enrolment-slip",
        data={"card_uid": "04C0FFEE000003", "csrf_token": csrf_token(owner.get("/counter"))},
    )
    assert response.status_code == 200 and "/join?code=" in response.get_data(as_text=True)


def test_the_devices_page_shows_what_the_bridge_reported(settings, init_info):
    from appliance.device_health import record_health

    record_health("printer", "printer", "paper_out", "Paper end <sensor>")
    page = _owner(settings, init_info).get("/admin/devices").get_data(as_text=True)
    assert "paper_out" in page and "Paper end &lt;sensor&gt;" in page


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00"
    b"\x00IEND\xaeB`\x82"
)


def test_the_logo_is_uploaded_and_shown_to_customers(settings, init_info):
    import io

    owner = _owner(settings, init_info)
    assert owner.get("/logo").status_code == 404
    token = csrf_token(owner.get("/admin/settings"))
    bad = owner.post("/admin/settings/logo", data={"csrf_token": token,
                     "logo": (io.BytesIO(b"<svg onload=alert(1)>"), "x.svg")},
                     follow_redirects=True)  # fmt: skip
    assert "must be a PNG or JPEG" in bad.get_data(as_text=True)
    owner.post("/admin/settings/logo", data={"csrf_token": token,
               "logo": (io.BytesIO(PNG), "logo.png")})  # fmt: skip
    logo = make_app(settings).test_client().get("/logo")
    assert logo.status_code == 200 and logo.headers["Content-Type"] == "image/png"
    assert 'src="/logo"' in make_app(settings).test_client().get("/join").get_data(as_text=True)


def test_times_follow_the_shop_time_zone(settings, init_info):
    from appliance.counter import handle

    from .conftest import T0

    owner = _owner(settings, init_info)
    member = add_member("Tom", card_uid="04A23B4C5D6E7F", now=T0)
    handle("04A23B4C5D6E7F", "test", now=T0)  # 09:00 UTC
    token = csrf_token(owner.get("/admin/settings"))
    data = {"currency": "EUR", "language": "en", "csrf_token": token}
    page = owner.post("/admin/settings", data=dict(data, timezone="Mars/Base"),
                      follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "is not a time zone" in page
    owner.post("/admin/settings", data=dict(data, timezone="Asia/Jerusalem"))
    page = owner.get(f"/admin/members/{member['id']}?lang=en").get_data(as_text=True)
    assert "11:00" in page  # 09:00 UTC is 11:00 in Jerusalem in November
