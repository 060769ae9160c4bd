"""The wallet-push campaign channel: Apple passes get an "offer" field change (pushed with the
next coalesced update), Google objects an addMessage; members without a pass are suppressed."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from datetime import timedelta

import pytest

from appliance import box as box_mod
from appliance import campaigns
from appliance.channels.delivery import deliver_all
from appliance.members import add_member
from appliance.models import Outbox
from appliance.wallet import ensure_pass, make_apple_pass
from tests.conftest import T0
from tests.fixtures.wallet.google_peer import GooglePeer
from tests.fixtures.wallet.pki import make_pki

ISSUER = "3388000000012345678"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def google():
    peer = GooglePeer()
    yield peer
    peer.close()


@pytest.fixture
def shop(box, pki, google, tmp_path):
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(google.account))
    settings = dataclasses.replace(
        box.settings,
        public_url="https://cafe.example",
        shop_name="Example Cafe",
        apple_cert=str(pki.paths["cert"]),
        apple_key=str(pki.paths["key"]),
        apple_wwdr=str(pki.paths["wwdr"]),
        google_issuer_id=ISSUER,
        google_service_account=str(key),
        google_api_url=google.url + "/walletobjects/v1",
    )
    running = box_mod.start(settings)
    holder = add_member("Dana", card_uid="04A1B2C3D4E5F6", now=T0)["id"]
    other = add_member("Eli", card_uid="04FFEEDDCCBBAA", now=T0)["id"]
    record = ensure_pass(running.db, holder, T0)
    return running, holder, other, record


def test_a_wallet_campaign_reaches_pass_holders_only(shop, google, pki):
    box, holder, other, record = shop
    from appliance.wallet.google import GoogleWallet, google_config, loyalty_object

    config = google_config(box.settings)
    client = GoogleWallet(config)
    client.upsert_object(loyalty_object(box, config, holder, T0))  # the member saved it
    client.close()
    c = campaigns.create_campaign(
        "Friday", "new-joiners", {"days": "365"}, ["wallet"],
        {"wallet": {"": {"text": "Double stamps on Friday, {{first_name}}!"}}},
        now=T0, box=box,
    )  # fmt: skip
    sent = campaigns.send_campaign(c["id"], now=T0, box=box)
    assert sent["recipients"] == 2
    counts = deliver_all(box, now=T0 + timedelta(minutes=1))
    assert counts["sent"] == 1  # the member without a pass was suppressed when queued
    states = {r.member_id: (r.state, r.last_error) for r in Outbox.select()}
    assert states[holder][0] == "sent"
    assert states[other] == ("suppressed", "no wallet pass")
    # Google: one notifying message on the object, valid against Google's schema
    stored = google.objects["loyaltyObject"][f"{ISSUER}.{record.serial}"]
    assert stored["messages"][0]["body"] == "Double stamps on Friday, Dana!"
    assert stored["messages"][0]["messageType"] == "TEXT_AND_NOTIFY"
    assert google.invalid == []
    # Apple: the pass carries the offer with a changeMessage, and an update is pending
    dirty = box.db.execute_sql("SELECT member_id FROM wallet_dirty").fetchall()
    assert dirty == [(holder,)]
    data, _ = make_apple_pass(box, holder, now=T0)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        back = json.loads(zf.read("pass.json"))["storeCard"]["backFields"]
    offer = next(f for f in back if f["key"] == "offer")
    assert offer == {"key": "offer", "label": "OFFER", "changeMessage": "%@",
                     "value": "Double stamps on Friday, Dana!"}  # fmt: skip
    # sending the campaign again adds nothing
    campaigns.send_campaign(c["id"], now=T0 + timedelta(hours=1), box=box)
    assert deliver_all(box, now=T0 + timedelta(hours=1))["sent"] == 0
