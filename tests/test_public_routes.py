"""Public addresses: a voucher's QR image (valid signed voucher codes only, nothing about the
member), and the SMS provider's reply webhook signed the way Twilio signs."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import zxingcpp
from PIL import Image

from appliance import box as box_mod
from appliance.channels.delivery import voucher_qr_url
from appliance.channels.sms import request_signature
from appliance.members import add_member
from appliance.models import Consent, Member
from appliance.settings import load_settings
from appliance.vouchers import issue_voucher_sql

from .conftest import T0
from .test_web import make_app

PUBLIC = "https://box.cafe.example"


@pytest.fixture
def app(settings):
    s = load_settings(
        environ={},
        data_dir=settings.data_dir,
        timezone="UTC",
        public_url=PUBLIC,
        sms_api_url="http://127.0.0.1:9",
        sms_account="AC0123",
        sms_token="secret-token",
        sms_from="+4930123456",
    )
    app = make_app(s)
    yield app
    box_mod.stop()


def test_twilios_documented_signature_example():
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    signature = request_signature(
        "https://mycompany.com/myapp.php?foo=1&bar=2", params.items(), "12345"
    )
    assert signature == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_a_vouchers_qr_image_reads_back_as_its_code(app):
    box = box_mod.current()
    member = add_member("Anna Secret", "anna@example.com", now=T0)
    with box.db.atomic():
        voucher = issue_voucher_sql(
            box.db, box.code_key, member["id"], "campaign", "Free coffee",
            T0, T0 + timedelta(days=30), "test:1",
        )  # fmt: skip
    url = voucher_qr_url(box, voucher["code"])
    assert url.startswith(f"{PUBLIC}/voucher/")
    client = app.test_client()
    response = client.get(url.removeprefix(PUBLIC))
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert "immutable" in response.headers["Cache-Control"]
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    assert found.text == voucher["code"].replace("-", "")
    assert b"Anna" not in response.data and "Anna" not in str(response.headers)
    # dashes and lower case read the same
    assert client.get(f"/voucher/{voucher['code'].lower()}/qr.png").status_code == 200


def test_no_qr_for_a_forged_code_or_a_card(app):
    client = app.test_client()
    member = add_member("Ben", now=T0)
    card = member["cards"][0]["code"].replace("-", "")
    assert client.get(f"/voucher/{card}/qr.png").status_code == 404
    assert client.get("/voucher/VABCDEFGHJKMNPQR/qr.png").status_code == 404
    assert client.get("/voucher/x/qr.png").status_code == 404


def _post(client, form, token="secret-token", url=f"{PUBLIC}/sms/inbound"):
    signature = request_signature(url, form.items(), token)
    return client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})


REPLY = {
    "MessageSid": "SM0001",
    "AccountSid": "AC0123",
    "From": "+491701234567",
    "To": "+4930123456",
    "Body": "STOP",
}


def test_a_signed_stop_reply_withdraws_sms_consent(app):
    member = add_member("Dana", phone="+49 170 1234567", now=T0)["id"]
    Member.update(sms_consent_at=T0).where(Member.id == member).execute()
    client = app.test_client()
    response = _post(client, REPLY)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert b"<Response></Response>" in response.data
    dana = Member.get_by_id(member)
    assert dana.sms_consent_at is None and dana.sms_unsubscribed_at is not None
    assert Consent.get(Consent.member == member).source == "sms-reply"
    # START gives it back
    assert _post(client, {**REPLY, "MessageSid": "SM0002", "Body": "start"}).status_code == 200
    assert Member.get_by_id(member).sms_consent_at is not None


def test_unsigned_or_forged_replies_are_refused(app):
    member = add_member("Eli", phone="+491701234567", now=T0)["id"]
    Member.update(sms_consent_at=T0).where(Member.id == member).execute()
    client = app.test_client()
    assert client.post("/sms/inbound", data=REPLY).status_code == 403
    assert _post(client, REPLY, token="guessed").status_code == 403
    assert _post(client, {**REPLY, "AccountSid": "ACother"}).status_code == 403
    # signed for other content than what arrives
    signature = request_signature(f"{PUBLIC}/sms/inbound", {**REPLY, "Body": "hi"}.items(), "x")
    assert (
        client.post(
            "/sms/inbound", data=REPLY, headers={"X-Twilio-Signature": signature}
        ).status_code
        == 403
    )
    assert Member.get_by_id(member).sms_consent_at is not None


def test_the_webhook_also_accepts_the_address_it_was_reached_at(app):
    member = add_member("Fay", phone="+491701234567", now=T0)["id"]
    client = app.test_client()
    # e.g. the provider was given the box's LAN address rather than public_url
    response = _post(client, REPLY, url="http://localhost/sms/inbound")
    assert response.status_code == 200
    assert Member.get_by_id(member).sms_unsubscribed_at is not None


def test_without_sms_set_up_the_webhook_is_not_there(settings):
    app = make_app(settings)
    try:
        assert app.test_client().post("/sms/inbound", data=REPLY).status_code == 404
    finally:
        box_mod.stop()


def test_an_opt_out_type_from_the_provider_counts_whatever_the_word(app):
    member = add_member("Gul", phone="+491701234567", now=T0)["id"]
    Member.update(sms_consent_at=T0).where(Member.id == member).execute()
    client = app.test_client()
    # a keyword the shop set at the provider in Kazakh ("stop")
    reply = {**REPLY, "Body": "ТОҚТАТ", "OptOutType": "STOP"}
    assert _post(client, reply).status_code == 200
    assert Member.get_by_id(member).sms_consent_at is None
