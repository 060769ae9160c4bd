"""Self-signup, consents with their wording, double opt-in, enrolment slips, unsubscribe links."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from appliance.counter import handle
from appliance.models import Consent, EnrolmentCode, Member, Outbox
from appliance.signup import confirm_email, create_enrolment_code
from appliance.unsubscribe import make_unsubscribe_token, verify_unsubscribe_token

from .conftest import T0
from .test_web import csrf_token, log_in, make_app


@pytest.fixture
def client(settings, init_info):
    return make_app(settings).test_client()


def _join(client, query="", **fields):
    token = csrf_token(client.get("/join" + query))
    data = {"csrf_token": token, **fields}
    return client.post("/join" + query, data=data)


def test_a_customer_signs_up_with_consents_stored_as_shown(client):
    response = _join(client, name="Dana", email="dana@example.com", phone="+972 50 1234567",
                     day="14", month="3", consent_email="yes", consent_sms="yes")  # fmt: skip
    assert response.status_code == 200
    assert "Welcome!" in response.get_data(as_text=True)
    member = Member.get(Member.email == "dana@example.com")
    assert (member.birthday_month, member.birthday_day) == (3, 14)
    consents = {c.channel: c for c in Consent.select()}
    assert consents["email"].wording.startswith("Yes, send me offers and news by email")
    assert consents["email"].source == "self-signup:/join" and consents["email"].version
    # SMS counts at once; email only after the confirmation link (double opt-in)
    assert member.sms_consent_at is not None and member.email_consent_at is None
    row = Outbox.get(Outbox.kind == "signup_confirm")
    token = json.loads(row.payload)["token"]
    assert json.loads(row.payload)["confirm_url"] == f"http://stampbox.local/join/confirm/{token}"
    assert confirm_email(token) == member.id
    assert Member.get_by_id(member.id).email_consent_at is not None
    assert Consent.get(Consent.channel == "email").confirmed_at is not None


def test_consents_are_unticked_and_separate(client):
    page = client.get("/join").get_data(as_text=True)
    assert 'name="consent_email"' in page and 'name="consent_sms"' in page
    assert "checked" not in page
    _join(client, name="Eli", email="eli@example.com")
    assert Consent.select().count() == 0
    assert Outbox.select().where(Outbox.kind == "signup_confirm").count() == 0


def test_a_signup_needs_a_way_to_reach_the_customer(client):
    response = _join(client, name="Nobody")
    assert response.status_code == 400
    assert "email address or a phone number" in response.get_data(as_text=True)


def test_the_confirmation_page_works_in_the_browser(client):
    _join(client, email="f@example.com", consent_email="yes")
    token = json.loads(Outbox.get(Outbox.kind == "signup_confirm").payload)["token"]
    assert client.get(f"/join/confirm/{token}").status_code == 200
    assert client.get("/join/confirm/forged").status_code == 404


def test_an_enrolment_slip_ties_the_signup_to_its_card(client, settings, init_info):
    owner = make_app(settings).test_client()
    log_in(owner, init_info["owner"]["password"])
    page = owner.post(
        "/admin/enrolment-slip",
        data={"nfc_uid": "04C0FFEE000001", "csrf_token": csrf_token(owner.get("/counter"))},
    )
    code = EnrolmentCode.get().code
    assert code in page.get_data(as_text=True) and "<svg" in page.get_data(as_text=True)
    _join(client, f"?code={code}", name="Gil", phone="+49 30 123456")
    result = handle("04C0FFEE000001", "test")
    assert result.status == "stamped" and result.member["name"] == "Gil"
    # a slip works once
    assert _join(client, f"?code={code}", phone="+49 30 999999").status_code == 400


def test_an_expired_slip_is_refused(box):
    from appliance.members import MemberError
    from appliance.signup import signup

    code = create_enrolment_code("04C0FFEE000002", "owner", now=T0)
    with pytest.raises(MemberError):
        signup(name="Late", email="l@example.com", phone=None, birthday=None, consents=[],
               locale="en", source="t", slip_code=code, now=T0 + timedelta(days=30))  # fmt: skip


def test_unsubscribe_tokens_are_signed(box):
    token = make_unsubscribe_token(7, "email")
    assert verify_unsubscribe_token(token) == (7, "email")
    member_id, channel, mac = token.split(".")
    assert verify_unsubscribe_token(f"8.{channel}.{mac}") is None
    assert verify_unsubscribe_token(f"{member_id}.sms.{mac}") is None
    assert verify_unsubscribe_token("garbage") is None


def test_one_click_unsubscribe_needs_no_login_and_no_csrf_token(client):
    _join(client, name="Hana", email="h@example.com", phone="+49 30 1", consent_sms="yes")
    member = Member.get(Member.name == "Hana")
    token = make_unsubscribe_token(member.id, "sms")
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "<form" in page.get_data(as_text=True)
    # RFC 8058: the mail provider POSTs List-Unsubscribe=One-Click, nothing else
    response = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Member.get_by_id(member.id).sms_consent_at is None
    last = Consent.select().order_by(Consent.id.desc()).first()
    assert (last.granted, last.source) == (False, "one-click")
    assert client.post("/u/1.sms.forged").status_code == 404


def test_the_signup_qr_is_an_svg_pointing_at_join(settings, init_info):
    owner = make_app(settings).test_client()
    log_in(owner, init_info["owner"]["password"])
    page = owner.get("/admin/signup-qr").get_data(as_text=True)
    assert "<svg" in page and "http://stampbox.local/join" in page


@pytest.mark.parametrize(
    ("query", "accept", "lang", "direction"),
    [
        ("", "en-GB,en;q=0.9", "en", "ltr"),
        ("", "he-IL,he;q=0.9", "he", "rtl"),
        ("?lang=kk", "en", "kk", "ltr"),
        ("", "zh-CN,zh;q=0.9", "zh-Hans", "ltr"),
        ("?lang=he", "zh-CN", "he", "rtl"),
    ],
)
def test_the_signup_language_comes_from_lang_or_the_browser(client, query, accept, lang, direction):
    page = client.get("/join" + query, headers={"Accept-Language": accept})
    assert f'<html lang="{lang}" dir="{direction}">' in page.get_data(as_text=True)


def test_the_preferences_page_withdraws_consents_and_sets_the_language(client):
    from appliance.unsubscribe import make_preferences_token

    _join(client, name="Ida", email="ida@example.com", phone="+49 30 2", consent_sms="yes",
          consent_email="yes")  # fmt: skip
    member = Member.get(Member.name == "Ida")
    confirm_email(json.loads(Outbox.get(Outbox.kind == "signup_confirm").payload)["token"])
    url = f"/p/{make_preferences_token(member.id)}"
    page = client.get(url)
    assert page.status_code == 200
    # keep email, drop SMS, switch to Kazakh
    response = client.post(url, data={"csrf_token": csrf_token(page), "email": "yes",
                                      "language": "kk"})  # fmt: skip
    assert response.status_code == 200
    member = Member.get_by_id(member.id)
    assert member.email_consent_at is not None and member.sms_consent_at is None
    assert member.locale == "kk"
    # our own form: without its CSRF token it is refused
    assert client.post(url, data={"language": "zh"}).status_code == 400
    # a per-channel token is not a preferences token, and the other way round
    assert client.get(f"/p/{make_unsubscribe_token(member.id, 'email')}").status_code == 404
    assert client.get(f"/u/{make_preferences_token(member.id)}").status_code == 302


def test_links_made_by_the_campaign_code_work_here_and_suppress_queued_messages(client):
    from appliance.channels.unsubscribe import make_token

    _join(client, name="Jon", email="jon@example.com", consent_email="yes")
    member = Member.get(Member.name == "Jon")
    token = make_token(member.id, "email")
    assert token == make_unsubscribe_token(member.id, "email")
    assert client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    member = Member.get_by_id(member.id)
    assert member.email_unsubscribed_at is not None and member.email_consent_at is None


@pytest.mark.parametrize(
    ("lang", "no_contact", "bad_email"),
    [
        ("he", "תנו כתובת אימייל או מספר טלפון.", "אינה כתובת אימייל"),
        ("kk", "Электрондық пошта мекенжайын немесе телефон нөмірін көрсетіңіз.", "мекенжайы емес"),
        ("zh", "请填写电子邮件地址或电话号码。", "不是电子邮件地址"),
    ],
)
def test_the_cores_refusals_reach_customers_in_their_language(client, lang, no_contact, bad_email):
    """appliance raises English templates (appliance.refusal); /join shows them translated."""
    page = _join(client, f"?lang={lang}", name="Dana").get_data(as_text=True)
    assert no_contact in page and "Give an email address" not in page
    page = _join(client, f"?lang={lang}", name="Dana", email="no-at-sign").get_data(as_text=True)
    assert bad_email in page and "&#39;no-at-sign&#39;" in page  # the value itself, escaped
    assert "is not an email address" not in page
    assert Member.select().count() == 0
