"""Links that add a member's card to a phone's wallet: the welcome email, the signup page and
the enrolment slip, each followed the way a phone would (pkpass checked, save JWT verified)."""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
from datetime import timedelta
from io import BytesIO

import pytest
import zxingcpp
from PIL import ImageOps

from appliance import automations
from appliance import box as box_mod
from appliance.channels.delivery import deliver_all
from appliance.members import add_member
from appliance.models import Member, Outbox
from appliance.provision import init_box
from appliance.wallet import check_pkpass
from appliance.wallet.google import SAVE_URL
from appliance.wallet.links import enrolment_slip, wallet_links
from firmware_bridge.slips import render_png
from tests.conftest import T0
from tests.fixtures.wallet.google_peer import GooglePeer, verify_save_jwt
from tests.fixtures.wallet.pki import make_pki
from tests.test_campaigns import Sink, SmtpServer, smtp_settings
from tests.test_web import csrf_token, make_app

UID = "04A1B2C3D4E5F6"
ISSUER = "3388000000012345678"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def google():
    peer = GooglePeer()  # only its service account is used: nothing calls Google here
    yield peer
    peer.close()


@pytest.fixture
def mail():
    sink = Sink()
    server = SmtpServer(sink)
    server.start()
    yield server, sink
    server.stop()


def _wallet_settings(settings, pki, google, tmp_path, **extra):
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(google.account))
    return dataclasses.replace(
        settings,
        public_url="https://cafe.example",
        apple_cert=str(pki.paths["cert"]),
        apple_key=str(pki.paths["key"]),
        apple_wwdr=str(pki.paths["wwdr"]),
        google_issuer_id=ISSUER,
        google_service_account=str(key),
        **extra,
    )


def _passes(box) -> int:
    return box.db.execute_sql("SELECT COUNT(*) FROM wallet_pass").fetchone()[0]


def test_the_welcome_email_carries_a_wallet_link_that_adds_the_card(
    settings, pki, google, mail, tmp_path
):
    server, sink = mail
    s = _wallet_settings(smtp_settings(settings, server.port), pki, google, tmp_path)
    init_box(s, now=T0 - timedelta(days=1))
    box = box_mod.current()
    member = add_member("Dana Levi", "dana@example.com", card_uid=UID, now=T0)
    Member.update(email_consent_at=T0).where(Member.id == member["id"]).execute()
    content = {"email": {"": {"subject": "Welcome to {{shop_name}}",
                              "text": "Hello {{first_name}}, your card on your phone:"
                                      " {{wallet_url}}"}}}  # fmt: skip
    automations.configure("welcome", enabled=True, channel_names=["email"], content=content,
                          box=box)  # fmt: skip
    automations.run_due(T0 + timedelta(hours=1), box)
    assert deliver_all(box, now=T0 + timedelta(hours=1))["sent"] == 1
    ((_, message),) = sink.messages
    text = message.get_body(("plain",)).get_content()
    link = re.search(r"https://cafe\.example(/w/\S+)", text).group(1)
    # writing the email made no pass: only following the link does
    assert _passes(box) == 0

    client = make_app(s).test_client()
    page = client.get(link).get_data(as_text=True)
    assert 'id="add-apple-wallet"' in page and 'id="save-google-wallet"' in page
    pkpass = client.get(link + "/card.pkpass")
    assert pkpass.mimetype == "application/vnd.apple.pkpass"
    assert check_pkpass(pkpass.data, root=pki.root) == []
    pass_json = json.loads(zipfile.ZipFile(BytesIO(pkpass.data)).read("pass.json"))
    assert pass_json["webServiceURL"] == "https://cafe.example/wallet/apple"

    saved = client.get(link + "/google")
    assert saved.status_code == 302 and saved.location.startswith(SAVE_URL)
    claims = verify_save_jwt(saved.location[len(SAVE_URL) :], google.public_key)
    assert claims["typ"] == "savetowallet" and claims["origins"] == ["https://cafe.example"]
    (obj,) = claims["payload"]["loyaltyObjects"]
    assert obj["id"].startswith(ISSUER + ".") and obj["accountName"] == "Dana Levi"
    assert _passes(box) == 1

    forged = link.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAA"
    assert client.get(forged).status_code == 404
    assert client.get(forged + "/card.pkpass").status_code == 404
    assert client.get(forged + "/google").status_code == 404
    # an erased member's link gives nothing any more
    from appliance.member_rights import erase_member

    erase_member(member["id"], "owner", now=T0 + timedelta(days=2))
    assert client.get(link).status_code == 404
    assert client.get(link + "/card.pkpass").status_code == 404
    assert client.get(link + "/google").status_code == 404


def test_the_signup_page_offers_both_wallets_once_they_are_set_up(
    settings, init_info, pki, google, tmp_path
):
    plain = make_app(settings).test_client()
    form = {"name": "Eli", "email": "eli@example.com", "csrf_token": csrf_token(plain.get("/join"))}
    page = plain.post("/join", data=form).get_data(as_text=True)
    assert "Welcome!" in page and "add-apple-wallet" not in page

    client = make_app(_wallet_settings(settings, pki, google, tmp_path)).test_client()
    form = {
        "name": "Fay",
        "email": "fay@example.com",
        "csrf_token": csrf_token(client.get("/join")),
    }
    page = client.post("/join", data=form, headers={"Accept-Language": "he"})
    text = page.get_data(as_text=True)
    apple = re.search(r'id="add-apple-wallet" href="([^"]+)"', text).group(1)
    google_link = re.search(r'id="save-google-wallet" href="([^"]+)"', text).group(1)
    assert check_pkpass(client.get(apple).data, root=pki.root) == []
    assert client.get(google_link).location.startswith(SAVE_URL)
    assert "Apple Wallet" in text and 'dir="rtl"' in text

    # the confirmation link in the email offers the card too (customers open it on the phone)
    form = {"name": "Gal", "email": "gal@example.com", "consent_email": "yes",
            "csrf_token": csrf_token(client.get("/join"))}  # fmt: skip
    client.post("/join", data=form)
    row = Outbox.get(Outbox.kind == "signup_confirm")
    confirmed = client.get(f"/join/confirm/{json.loads(row.payload)['token']}")
    text = confirmed.get_data(as_text=True)
    assert confirmed.status_code == 200 and 'id="save-google-wallet"' in text
    google_link = re.search(r'id="save-google-wallet" href="([^"]+)"', text).group(1)
    claims = verify_save_jwt(client.get(google_link).location[len(SAVE_URL) :], google.public_key)
    assert claims["payload"]["loyaltyObjects"][0]["accountName"] == "Gal"


def test_without_wallets_the_links_are_empty(box):
    member = add_member("Gil", card_uid=UID, now=T0)
    assert wallet_links(box, member["id"]) == {
        "wallet_url": "", "apple_wallet_url": "", "google_wallet_url": "",
    }  # fmt: skip


def test_the_enrolment_slip_carries_the_wallet_qr(settings, init_info, pki, google, tmp_path):
    box = box_mod.start(_wallet_settings(settings, pki, google, tmp_path))
    member = add_member("Hana", card_uid=UID, now=T0)
    slip = enrolment_slip(box, member["id"], "https://cafe.example/join", now=T0)
    picture = ImageOps.expand(render_png(slip, 80).convert("L"), border=24, fill=255)
    qr = {c.text for c in zxingcpp.read_barcodes(picture) if "QR" in str(c.format)}
    wallet_url = wallet_links(box, member["id"])["wallet_url"]
    assert qr == {"https://cafe.example/join", wallet_url}
    assert wallet_url.startswith("https://cafe.example/w/")


def test_a_member_enrolled_at_the_counter_takes_a_slip_with_the_wallet_qr(
    settings, init_info, pki, google, tmp_path
):
    import json as json_mod

    from appliance.models import PrintJob
    from tests.test_web import log_in

    def enrol(client, uid, name):
        token = csrf_token(client.get("/counter"))
        return client.post(
            "/counter/enrol",
            data={"card_uid": uid, "name": name, "csrf_token": token},
            headers={"Accept": "application/json"},
        ).json

    # no wallet set up: no slip
    plain = make_app(settings).test_client()
    log_in(plain, init_info["owner"]["password"])
    assert "job" not in enrol(plain, "04AA00000000A1", "Gil")
    assert PrintJob.select().count() == 0
    box_mod.stop()

    client = make_app(_wallet_settings(settings, pki, google, tmp_path)).test_client()
    log_in(client, init_info["owner"]["password"])
    reply = enrol(client, UID, "Hana")
    assert reply["message"].endswith("The welcome slip with the wallet QR is printing.")
    box = box_mod.current()
    document = json_mod.loads(PrintJob.get_by_id(reply["job"]).document)
    qrs = [b["data"] for b in document["blocks"] if b.get("kind") == "qr"]
    member = reply["member"]["id"]
    assert qrs[1] == wallet_links(box, member)["wallet_url"]
    assert qrs[0].startswith("https://cafe.example/p/")  # the member's own preference page


@pytest.mark.parametrize("lang", ["he", "kk", "zh"])
def test_the_wallet_pages_speak_every_customer_language(lang):
    from tests.test_web_i18n import _catalog, _messages

    files = ["templates/signup/wallet.html", "templates/signup/wallet_buttons.html"]
    catalog = _catalog(lang)
    assert [m for m in _messages(files) if not (catalog.get(m) and catalog.get(m).string)] == []
