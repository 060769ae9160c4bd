"""The PassKit web service, with the test playing the phone's side of every endpoint."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from datetime import timedelta

import pytest

from appliance import box as box_mod
from appliance.counter import handle
from appliance.members import add_member
from appliance.wallet import check_pkpass, make_apple_pass
from appliance.wallet.cards import touch_pass
from tests.conftest import T0
from tests.fixtures.wallet.pki import PASS_TYPE_ID, make_pki
from tests.test_web import make_app

UID = "04A1B2C3D4E5F6"
BASE = "/wallet/apple/v1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def wallet_settings(settings, pki):
    return dataclasses.replace(
        settings,
        public_url="https://cafe.example",
        apple_cert=str(pki.paths["cert"]),
        apple_key=str(pki.paths["key"]),
        apple_wwdr=str(pki.paths["wwdr"]),
    )


@pytest.fixture
def phone(settings, init_info, pki):
    """The web app as Apple's devices see it, and a member with a saved pass."""
    client = make_app(wallet_settings(settings, pki)).test_client()
    box = box_mod.current()
    member = add_member("Dana", card_uid=UID, now=T0)
    _, record = make_apple_pass(box, member["id"], now=T0)
    return client, box, record


def _auth(record):
    return {"Authorization": f"ApplePass {record.auth_token}"}


def test_a_device_registers_lists_changes_downloads_and_unregisters(phone, pki):
    client, box, record = phone
    reg = f"{BASE}/devices/dev1/registrations/{PASS_TYPE_ID}/{record.serial}"
    body = {"pushToken": "aa" * 32}

    assert client.post(reg, json=body, headers=_auth(record)).status_code == 201
    assert client.post(reg, json=body, headers=_auth(record)).status_code == 200

    listing = client.get(f"{BASE}/devices/dev1/registrations/{PASS_TYPE_ID}")
    assert listing.status_code == 200
    assert listing.json["serialNumbers"] == [record.serial]
    tag = listing.json["lastUpdated"]
    # nothing changed since that tag: 204, and an unchanged serial is never listed
    since = client.get(f"{BASE}/devices/dev1/registrations/{PASS_TYPE_ID}?passesUpdatedSince={tag}")
    assert since.status_code == 204

    got = client.get(f"{BASE}/passes/{PASS_TYPE_ID}/{record.serial}", headers=_auth(record))
    assert got.status_code == 200
    assert got.mimetype == "application/vnd.apple.pkpass"
    assert check_pkpass(got.data, root=pki.root) == []
    modified = got.headers["Last-Modified"]
    same = client.get(
        f"{BASE}/passes/{PASS_TYPE_ID}/{record.serial}",
        headers={**_auth(record), "If-Modified-Since": modified},
    )
    assert same.status_code == 304 and same.data == b""

    # a stamp, then the pass changes twice in the same second: tags and dates still move on
    handle(UID, now=T0 + timedelta(minutes=1))
    first = touch_pass(box.db, record.member_id, T0)
    second = touch_pass(box.db, record.member_id, T0)
    assert int(tag) < first.update_tag < second.update_tag
    assert first.modified_at < second.modified_at
    changed = client.get(
        f"{BASE}/devices/dev1/registrations/{PASS_TYPE_ID}?passesUpdatedSince={tag}"
    )
    assert changed.status_code == 200
    assert changed.json == {"serialNumbers": [record.serial], "lastUpdated": str(second.update_tag)}
    assert int(changed.json["lastUpdated"]) > int(tag)
    fresh = client.get(
        f"{BASE}/passes/{PASS_TYPE_ID}/{record.serial}",
        headers={**_auth(record), "If-Modified-Since": modified},
    )
    assert fresh.status_code == 200
    assert fresh.headers["Last-Modified"] != modified
    with zipfile.ZipFile(io.BytesIO(fresh.data)) as zf:
        content = json.loads(zf.read("pass.json"))
    assert content["storeCard"]["headerFields"][0]["value"] == "1 / 10"

    log = client.post(f"{BASE}/log", json={"logs": ["Could not fetch pass"]})
    assert log.status_code == 200

    assert client.delete(reg, headers=_auth(record)).status_code == 200
    gone = client.get(f"{BASE}/devices/dev1/registrations/{PASS_TYPE_ID}")
    assert gone.status_code == 204


@pytest.mark.parametrize(
    "header",
    [None, "ApplePass wrong-token-wrong-token", "Bearer {token}", "ApplePass", "applepass {token}"],
)
def test_requests_without_the_pass_token_get_401(phone, header):
    client, box, record = phone
    headers = {"Authorization": header.format(token=record.auth_token)} if header else {}
    reg = f"{BASE}/devices/dev1/registrations/{PASS_TYPE_ID}/{record.serial}"
    assert client.post(reg, json={"pushToken": "t"}, headers=headers).status_code == 401
    assert client.delete(reg, headers=headers).status_code == 401
    got = client.get(f"{BASE}/passes/{PASS_TYPE_ID}/{record.serial}", headers=headers)
    assert got.status_code == 401
    rows = box.db.execute_sql("SELECT COUNT(*) FROM wallet_registration").fetchone()[0]
    assert rows == 0


def test_an_unknown_serial_is_401_and_another_pass_type_404(phone):
    client, _, record = phone
    unknown = client.get(f"{BASE}/passes/{PASS_TYPE_ID}/nope", headers=_auth(record))
    assert unknown.status_code == 401
    other = client.get(f"{BASE}/passes/pass.other/{record.serial}", headers=_auth(record))
    assert other.status_code == 404


def test_the_web_service_needs_no_csrf_token_and_sends_security_headers(phone):
    client, _, record = phone
    reg = f"{BASE}/devices/dev2/registrations/{PASS_TYPE_ID}/{record.serial}"
    response = client.post(reg, json={"pushToken": "bb"}, headers=_auth(record))
    assert response.status_code == 201
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_pass_whose_card_was_blocked_is_404_not_an_error(phone):
    client, box, record = phone
    box.db.execute_sql("UPDATE card SET blocked_at = 1")
    got = client.get(f"{BASE}/passes/{PASS_TYPE_ID}/{record.serial}", headers=_auth(record))
    assert got.status_code == 404


def test_an_erased_members_pass_is_served_voided_and_empty(phone, pki):
    from appliance.member_rights import erase_member

    client, box, record = phone
    erase_member(record.member_id, actor="owner", now=T0 + timedelta(hours=1))
    got = client.get(f"{BASE}/passes/{PASS_TYPE_ID}/{record.serial}", headers=_auth(record))
    assert got.status_code == 200
    assert check_pkpass(got.data, root=pki.root) == []
    with zipfile.ZipFile(io.BytesIO(got.data)) as zf:
        content = json.loads(zf.read("pass.json"))
    assert content["voided"] is True
    assert "barcodes" not in content
    assert "Dana" not in json.dumps(content)
