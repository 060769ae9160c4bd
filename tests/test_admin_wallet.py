"""The owner's wallet setup in the admin, through Flask's test client with a real box: uploads
checked and kept 0600 in the secrets folder, identifiers, look, the test page and its pushes."""

from __future__ import annotations

import dataclasses
import html
import io
import json
import stat
import zipfile
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from PIL import Image

from appliance import box as box_mod
from appliance.counter import handle
from appliance.members import add_member
from appliance.models import AuditLog
from appliance.staff import create_staff
from appliance.wallet import check_pkpass, ensure_pass, make_apple_pass
from appliance.wallet.service import register
from appliance.wallet.setup import upload_path, wallet_dir
from appliance.wallet.worker import run_wallet_updates
from tests.conftest import T0
from tests.fixtures.wallet.apns_peer import ApnsPeer
from tests.fixtures.wallet.google_peer import GooglePeer
from tests.fixtures.wallet.pki import PASS_TYPE_ID, TEAM_ID, make_pki
from tests.test_web import csrf_token, log_in, make_app

UID = "04A1B2C3D4E5F6"
ISSUER = "3388000000012345678"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    pem = serialization.Encoding.PEM
    pki.paths["wwdr_pem"] = pki.paths["root"].with_name("wwdr.pem")
    pki.paths["wwdr_pem"].write_bytes(pki.wwdr.public_bytes(pem))
    return pki


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    """Another shop's chain: its certificate names another pass type id and team."""
    return make_pki(tmp_path_factory.mktemp("other"), "pass.com.other.cafe", "OTHER12345")


def _owner(settings, init_info, **changes):
    app = make_app(dataclasses.replace(settings, **changes))
    client = app.test_client()
    log_in(client, init_info["owner"]["password"])
    return client


@pytest.fixture
def owner(settings, init_info):
    return _owner(settings, init_info, public_url="https://cafe.example")


def _post(client, url, data=None, files=None, page="/admin/wallet") -> str:
    form = {"csrf_token": csrf_token(client.get(page)), **(data or {})}
    for name, content in (files or {}).items():
        form[name] = (io.BytesIO(content), f"{name}.bin")
    response = client.post(
        url, data=form, content_type="multipart/form-data", follow_redirects=True
    )
    return html.unescape(response.get_data(as_text=True))  # the page, as the owner reads it


def _apple_files(pki) -> dict:
    return {
        "cert": pki.paths["cert"].read_bytes(),
        "key": pki.paths["key"].read_bytes(),
        "wwdr": pki.paths["wwdr"].read_bytes(),  # Apple's .cer is DER
    }


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_uploaded_certificate_key_and_wwdr_sign_passes_and_are_kept_0600(owner, settings, pki):
    page = _post(owner, "/admin/wallet/apple", files=_apple_files(pki))
    assert f"Apple Wallet certificate saved for {PASS_TYPE_ID}" in page
    assert 'id="apple-ready"' in page and TEAM_ID in page
    for name in ("apple_cert", "apple_key", "apple_wwdr"):
        assert _mode(upload_path(settings, name)) == 0o600
    assert _mode(wallet_dir(settings)) == 0o700
    assert not list(wallet_dir(settings).glob(".*tmp"))
    box = box_mod.current()
    member = add_member("Dana", card_uid=UID, now=T0)
    data, record = make_apple_pass(box, member["id"], now=T0)
    assert check_pkpass(data, root=pki.root) == []
    content = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("pass.json"))
    assert content["passTypeIdentifier"] == PASS_TYPE_ID
    assert content["webServiceURL"] == "https://cafe.example/wallet/apple"
    assert AuditLog.select().where(AuditLog.action == "wallet.apple").exists()


def test_a_p12_with_its_password_is_accepted(owner, settings, pki):
    # as Keychain exports it: the certificate, its key and the WWDR intermediate
    p12 = pkcs12.serialize_key_and_certificates(
        b"pass", pki.key, pki.cert, [pki.wwdr],
        serialization.BestAvailableEncryption(b"s3cret"),
    )  # fmt: skip
    wrong = _post(owner, "/admin/wallet/apple", {"p12_password": "nope"}, {"p12": p12})
    assert "wrong password" in wrong
    assert not upload_path(settings, "apple_cert").exists()
    good = _post(owner, "/admin/wallet/apple", {"p12_password": "s3cret"}, {"p12": p12})
    assert "certificate saved" in good and 'id="apple-ready"' in good
    # stored unencrypted for the worker, readable by the service user only
    key = upload_path(settings, "apple_key")
    assert b"PRIVATE KEY" in key.read_bytes() and _mode(key) == 0o600
    assert _mode(upload_path(settings, "apple_wwdr")) == 0o600


def test_apple_uploads_that_would_break_passes_are_refused_and_nothing_is_stored(
    owner, settings, pki, other
):
    def refused(files, message):
        page = _post(owner, "/admin/wallet/apple", files=files)
        assert message in page, message
        assert not wallet_dir(settings).exists() or not any(wallet_dir(settings).iterdir())

    # a key that is not the certificate's, a WWDR that did not issue it, no certificate at all
    refused({**_apple_files(pki), "key": other.paths["key"].read_bytes()},
            "The private key does not belong to this certificate")  # fmt: skip
    refused({**_apple_files(pki), "wwdr": other.paths["wwdr"].read_bytes()},
            "The WWDR certificate did not issue this Pass Type ID certificate")  # fmt: skip
    refused({**_apple_files(pki), "cert": b"not a certificate"}, "is not a certificate")
    # a certificate for other identifiers than the box uses
    _post(owner, "/admin/wallet/identifiers", {"apple_pass_type_id": PASS_TYPE_ID})
    refused(_apple_files(other),
            "The certificate is for the pass type identifier 'pass.com.other.cafe'")  # fmt: skip


def test_later_changes_are_checked_against_what_is_stored(owner, pki, other):
    _post(owner, "/admin/wallet/apple", files=_apple_files(pki))
    # a renewed certificate alone must belong to the stored key
    page = _post(owner, "/admin/wallet/apple", files={"cert": other.paths["cert"].read_bytes()})
    assert "The private key does not belong to this certificate" in page
    # identifiers must be the stored certificate's, and well formed
    page = _post(owner, "/admin/wallet/identifiers", {"apple_team_id": "OTHER12345"})
    assert "not 'OTHER12345'" in page
    page = _post(owner, "/admin/wallet/identifiers", {"apple_pass_type_id": "com.example"})
    assert "looks like pass.com.example.cafe" in page
    assert 'id="apple-ready"' in page


def test_a_malformed_google_key_is_refused(owner, settings):
    for content, message in (
        (b"{not json", "is not a JSON file"),
        (b'{"type": "authorized_user"}', "must be a service account"),
        (b'{"type": "service_account", "client_email": "a@b"}', "lacks private_key, token_uri"),
        (b'{"type": "service_account", "client_email": "a@b", "token_uri": "https://t",'
         b' "private_key": "nonsense"}', "is not a private key file"),
    ):  # fmt: skip
        page = _post(owner, "/admin/wallet/google", files={"key": content})
        assert message in page, message
        assert not upload_path(settings, "google_service_account").exists()


def test_the_google_key_and_issuer_make_google_ready_and_the_check_upserts_the_class(
    owner, settings
):
    google = GooglePeer()
    try:
        owner_app = _owner_with(owner, settings, google_api_url=google.url + "/walletobjects/v1")
        key = json.dumps(google.account).encode()
        page = _post(owner_app, "/admin/wallet/google", files={"key": key})
        assert "stampbox-test.iam.gserviceaccount.com saved" in page
        assert _mode(upload_path(settings, "google_service_account")) == 0o600
        _post(owner_app, "/admin/wallet/identifiers", {"google_issuer_id": ISSUER})
        _post(owner_app, "/admin/wallet/look", {"background": "#112233", "latitude": "52.52",
                                                "longitude": "13.405"})  # fmt: skip
        assert 'id="google-ready"' in owner_app.get("/admin/wallet").get_data(as_text=True)
        page = _post(owner_app, "/admin/wallet/test/google", page="/admin/wallet/test")
        assert "Google Wallet accepted the loyalty class" in page
    finally:
        google.close()
    stored = google.objects["loyaltyClass"][f"{ISSUER}.stampbox_loyalty"]
    assert stored["hexBackgroundColor"] == "#112233"
    assert stored["merchantLocations"] == [{"latitude": 52.52, "longitude": 13.405}]
    assert google.token_requests == 1 and google.invalid == []


def _owner_with(client, settings, **changes):
    """The same box served by an app whose settings differ (another URL for a peer)."""
    app = make_app(dataclasses.replace(settings, public_url="https://cafe.example", **changes))
    other = app.test_client()
    other.set_cookie("stampbox_session", client.get_cookie("stampbox_session").value)
    return other


def test_the_box_configuration_wins_and_the_page_says_so(settings, init_info, pki):
    owner = _owner(settings, init_info, apple_cert=str(pki.paths["cert"]),
                   apple_pass_type_id=PASS_TYPE_ID)  # fmt: skip
    page = owner.get("/admin/wallet").get_data(as_text=True)
    assert "Set in the box configuration (STAMPBOX_APPLE_PASS_TYPE_ID)" in page
    refused = _post(owner, "/admin/wallet/apple", files=_apple_files(pki))
    assert "sets STAMPBOX_APPLE_CERT: change it there" in refused


def test_without_an_https_address_the_admin_says_apple_passes_stay_static(settings, init_info):
    owner = _owner(settings, init_info, public_url="http://stampbox.local")
    for url in ("/admin/wallet", "/admin/wallet/test"):
        page = owner.get(url).get_data(as_text=True)
        assert "Apple passes stay static" in page and "Google passes still update" in page
    https = _owner(settings, init_info, public_url="https://cafe.example")
    assert "Apple passes stay static" not in https.get("/admin/wallet").get_data(as_text=True)


def test_colours_logo_and_location_reach_the_pass_and_the_test_page(owner, settings, pki):
    _post(owner, "/admin/wallet/apple", files=_apple_files(pki))
    look = {"background": "#102030", "foreground": "#FAFAFA", "label": "#a0b0c0",
            "latitude": "52,5200", "longitude": "13.4050",
            "relevant_text": "Coffee time?"}  # fmt: skip
    assert "Colours and location saved" in _post(owner, "/admin/wallet/look", look)
    picture = io.BytesIO()
    Image.new("RGB", (900, 300), (200, 30, 30)).save(picture, "JPEG")
    assert "Pass logo saved" in _post(
        owner, "/admin/wallet/logo", files={"logo": picture.getvalue()}
    )
    assert "must be a PNG or JPEG" in _post(owner, "/admin/wallet/logo", files={"logo": b"GIF89a"})
    bomb = io.BytesIO()
    Image.new("1", (5000, 5000)).save(bomb, "PNG")  # small file, 25 megapixels
    assert "too large" in _post(owner, "/admin/wallet/logo", files={"logo": bomb.getvalue()})
    bad = _post(owner, "/admin/wallet/look", {"latitude": "95", "longitude": "1"})
    assert "between -90 and 90" in bad

    box = box_mod.current()
    member = add_member("Dana", card_uid=UID, now=T0)
    data, _ = make_apple_pass(box, member["id"], now=T0)
    assert check_pkpass(data, root=pki.root) == []
    bundle = zipfile.ZipFile(io.BytesIO(data))
    content = json.loads(bundle.read("pass.json"))
    assert content["backgroundColor"] == "rgb(16, 32, 48)"
    assert content["foregroundColor"] == "rgb(250, 250, 250)"
    assert content["locations"] == [
        {"latitude": 52.52, "longitude": 13.405, "relevantText": "Coffee time?"}
    ]
    logo = Image.open(io.BytesIO(bundle.read("logo@3x.png")))
    assert logo.size == (450, 150) and logo.getpixel((10, 10))[0] > 150  # the upload, fitted
    assert Image.open(io.BytesIO(bundle.read("logo.png"))).size == (150, 50)

    page = owner.get(f"/admin/wallet/test?member={member['id']}").get_data(as_text=True)
    assert 'id="pass-strip" src="data:image/png;base64,' in page
    assert "0 / 10" in page and "#102030" in page and "Coffee time?" in page
    # looking at a member's pass does not give them one
    eli = add_member("Eli", card_uid="04FFEEDDCCBBAA", now=T0)
    assert "0 / 10" in owner.get(f"/admin/wallet/test?member={eli['id']}").get_data(as_text=True)
    count = "SELECT COUNT(*) FROM wallet_pass WHERE member_id = ?"
    assert box.db.execute_sql(count, (eli["id"],)).fetchone()[0] == 0
    sample = owner.get("/admin/wallet/test").get_data(as_text=True)
    assert "sample card" in sample and "7 / 10" in sample
    download = owner.get("/admin/wallet/test/0.pkpass")
    assert download.mimetype == "application/vnd.apple.pkpass"
    assert check_pkpass(download.data, root=pki.root) == []
    assert (
        owner.get("/wallet/logo.png").data
        == box.settings.data_dir.joinpath("wallet-logo.png").read_bytes()
    )


def test_the_test_page_sends_a_push_to_the_loopback_apns_peer(
    settings, init_info, pki, monkeypatch
):
    peer = ApnsPeer(
        pki.paths["server_chain"], pki.paths["server_key"],
        [pki.paths["root"], pki.paths["wwdr_pem"]], PASS_TYPE_ID,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.paths["root"]))
    try:
        owner = _owner(settings, init_info, public_url="https://cafe.example", apns_url=peer.url)
        _post(owner, "/admin/wallet/apple", files=_apple_files(pki))
        box = box_mod.current()
        member = add_member("Dana", card_uid=UID, now=T0)
        record = ensure_pass(box.db, member["id"], T0)
        auth = {"Authorization": f"ApplePass {record.auth_token}"}
        # the phones' side of the web service knows the uploaded certificate's pass type
        base = f"/wallet/apple/v1/devices/{{}}/registrations/{PASS_TYPE_ID}/{record.serial}"
        for device, token in (("phone", "a1" * 32), ("gone", "b2" * 32)):
            reply = owner.post(base.format(device), json={"pushToken": token}, headers=auth)
            assert reply.status_code == 201
        latest = owner.get(f"/wallet/apple/v1/passes/{PASS_TYPE_ID}/{record.serial}", headers=auth)
        assert check_pkpass(latest.data, root=pki.root) == []
        peer.gone.add("b2" * 32)
        page = owner.get("/admin/wallet/test").get_data(as_text=True)
        assert "Dana #" in page
        ids = [r[0] for r in box.db.execute_sql(
            "SELECT id FROM wallet_registration ORDER BY device_id DESC").fetchall()]  # fmt: skip
        sent = _post(owner, "/admin/wallet/test/push", {"registration": ids[0]},
                     page="/admin/wallet/test")  # fmt: skip
        assert "Apple accepted the push" in sent
        gone = _post(owner, "/admin/wallet/test/push", {"registration": ids[1]},
                     page="/admin/wallet/test")  # fmt: skip
        assert "its registration was deleted" in gone
        # and the worker's round pushes with the uploaded certificate too
        handle(UID, now=T0 + timedelta(hours=1))
        counts = run_wallet_updates(box_mod.current(), now=T0 + timedelta(hours=1))
        assert (counts.pushed, counts.later) == (1, 0), counts.errors
    finally:
        peer.close()
    assert [r["token"] for r in peer.requests] == ["a1" * 32, "b2" * 32, "a1" * 32]
    assert peer.requests[0]["headers"]["apns-topic"] == PASS_TYPE_ID
    assert set(peer.protocols) == {"h2"}
    left = box.db.execute_sql("SELECT device_id FROM wallet_registration").fetchall()
    assert left == [("phone",)]


def test_staff_are_refused_every_wallet_route(settings, init_info, app_routes):
    create_staff("barista", "counter-pass-123", "staff", actor="owner")
    client = make_app(settings).test_client()
    log_in(client, "counter-pass-123", username="barista")
    token = csrf_token(client.get("/counter"))
    assert app_routes, "no wallet admin routes found"
    for url, method in app_routes:
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 403, (method, url)


@pytest.fixture
def app_routes(settings, init_info):
    app = make_app(settings)
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin_wallet."):
            url = rule.build({name: 1 for name in rule.arguments})[1]
            out += [(url, m) for m in rule.methods - {"HEAD", "OPTIONS"}]
    return out


def test_wallet_forms_without_csrf_are_refused(owner, settings, pki):
    files = {k: (io.BytesIO(v), k) for k, v in _apple_files(pki).items()}
    response = owner.post("/admin/wallet/apple", data=files, content_type="multipart/form-data")
    assert response.status_code == 400
    assert not upload_path(settings, "apple_cert").exists()
    assert owner.post("/admin/wallet/look", data={"background": "#000000"}).status_code == 400


def test_an_apns_token_key_is_checked_stored_0600_and_used_for_the_test_push(
    settings, init_info, pki, other, monkeypatch
):
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    p8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    peer = ApnsPeer(
        pki.paths["server_chain"], pki.paths["server_key"], [pki.paths["root"]], PASS_TYPE_ID,
        token_key=key.public_key(), key_id="KEYID12345", team_id=TEAM_ID,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.paths["root"]))
    try:
        owner = _owner(settings, init_info, public_url="https://cafe.example", apns_url=peer.url)
        _post(owner, "/admin/wallet/apple", files=_apple_files(pki))
        rsa_key = other.paths["key"].read_bytes()
        page = _post(owner, "/admin/wallet/apns-key", {"key_id": "KEYID12345"}, {"p8": rsa_key})
        assert "must be the .p8 file Apple gives" in page
        page = _post(owner, "/admin/wallet/apns-key", {"key_id": ""}, {"p8": p8})
        assert "Give the key's Key ID" in page
        page = _post(owner, "/admin/wallet/apns-key", {"key_id": "KEYID12345"}, {"p8": p8})
        assert "token authentication" in page and "a token key" in page
        assert _mode(upload_path(settings, "apns_key_file")) == 0o600
        box = box_mod.current()
        member = add_member("Dana", card_uid=UID, now=T0)
        record = ensure_pass(box.db, member["id"], T0)
        register(box.db, PASS_TYPE_ID, "phone", PASS_TYPE_ID, record.serial,
                 f"ApplePass {record.auth_token}", {"pushToken": "a1" * 32}, now=T0)  # fmt: skip
        reg_id = box.db.execute_sql("SELECT id FROM wallet_registration").fetchone()[0]
        sent = _post(owner, "/admin/wallet/test/push", {"registration": reg_id},
                     page="/admin/wallet/test")  # fmt: skip
        assert "Apple accepted the push" in sent
        page = _post(owner, "/admin/wallet/apns-key/remove")
        assert "use the certificate again" in page
        assert not upload_path(settings, "apns_key_file").exists()
    finally:
        peer.close()
    assert len(peer.jwts) == 1 and peer.requests[0]["client"] == {}


def test_the_owner_adds_the_wallet_link_to_the_welcome_email_in_each_language(owner, pki):
    from appliance import automations

    box = box_mod.current()
    content = {"email": {"": {"subject": "Hi", "text": "Welcome!"},
                         "he": {"subject": "שלום", "text": "ברוכים הבאים!",
                                "html": "<p>ברוכים הבאים!</p>"}}}  # fmt: skip
    automations.configure("welcome", enabled=True, channel_names=["email"], content=content,
                          box=box)  # fmt: skip
    assert "Add the wallet link to the welcome email" in owner.get("/admin/wallet").get_data(
        as_text=True
    )
    _post(owner, "/admin/wallet/apple", files=_apple_files(pki))
    page = _post(owner, "/admin/wallet/welcome-link")
    assert "added to 2 language(s)" in page and 'id="welcome-has-link"' in page
    email = automations.load("welcome", box)["content"]["email"]
    assert email[""]["text"] == "Welcome!\n\nYour stamp card on your phone: {{wallet_url}}"
    assert email["he"]["text"].endswith("כרטיס החותמות שלך בטלפון: {{wallet_url}}")
    assert '<a href="{{wallet_url}}">' in email["he"]["html"]
    assert automations.load("welcome", box)["enabled"] is True
    # the preview fills it with the member's own signed page
    member = add_member("Dana", "dana@example.com", card_uid=UID, now=T0)
    preview = automations.preview("welcome", member["id"], now=T0, box=box)["email"]
    assert "Your stamp card on your phone: https://cafe.example/w/" in preview["text"]
    # pressing it again changes nothing
    assert "added to 0 language(s)" in _post(owner, "/admin/wallet/welcome-link")


def test_the_member_page_shows_a_wallet_qr_once_a_wallet_is_set_up(
    app, owner, staff, settings, pki
):
    from appliance.wallet.links import wallet_links
    from web.qr import qr_svg

    member = add_member("Dana", card_uid=UID, now=T0)
    page = owner.get(f"/admin/members/{member['id']}").get_data(as_text=True)
    assert 'id="member-wallet-qr"' not in page
    _post(owner, "/admin/wallet/apple", files=_apple_files(pki))
    page = owner.get(f"/admin/members/{member['id']}").get_data(as_text=True)
    url = wallet_links(box_mod.current(), member["id"])["wallet_url"]
    assert url.startswith("https://cafe.example/w/")
    # the QR is its own picture beside the page (drawing it costs more than the page)
    picture = f"/admin/members/{member['id']}/wallet-qr.svg"
    assert f'<img class="qr" id="member-wallet-qr" alt="QR" src="{picture}">' in page
    response = owner.get(picture)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.get_data(as_text=True) == str(qr_svg(url))
    assert response.headers["Cache-Control"] == "private, no-cache"
    # the browser asks again with its ETag: nothing is drawn or sent
    again = owner.get(picture, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # staff see it too; nobody logged out does; no picture for an unknown member
    assert staff.get(picture).status_code == 200
    assert app.test_client().get(picture).status_code == 302
    assert owner.get("/admin/members/999999/wallet-qr.svg").status_code == 404


def test_an_erased_member_has_no_wallet_qr(owner, settings, pki):
    from appliance.member_rights import erase_member

    member = add_member("Dana", card_uid=UID, now=T0)
    _post(owner, "/admin/wallet/apple", files=_apple_files(pki))
    picture = f"/admin/members/{member['id']}/wallet-qr.svg"
    assert owner.get(picture).status_code == 200
    erase_member(member["id"], "owner", now=T0)
    assert owner.get(picture).status_code == 404
    assert 'id="member-wallet-qr"' not in owner.get(f"/admin/members/{member['id']}").get_data(
        as_text=True
    )


def test_the_wallet_setup_answers_in_the_owners_language(owner, settings, pki):
    owner.get("/admin/wallet?lang=he")  # the owner chooses Hebrew (kept in the session)
    page = _post(owner, "/admin/wallet/apple", files=_apple_files(pki))
    assert f"תעודת Apple Wallet נשמרה עבור {PASS_TYPE_ID}." in page
    look = {"background": "#102030", "foreground": "#FAFAFA", "label": "#a0b0c0"}
    assert "הצבעים והמיקום נשמרו." in _post(owner, "/admin/wallet/look", look)
    assert "Colours and location saved" not in _post(owner, "/admin/wallet/look", look)
    assert "הקישור לארנק נוסף ל-" in _post(owner, "/admin/wallet/welcome-link")
