"""Google Wallet: payloads valid against Google's discovery schema, the OAuth flow and the REST
calls against loopback peers, the 3-a-day notification limit, the save link."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from appliance.counter import handle
from appliance.members import add_member
from appliance.wallet import ensure_pass
from appliance.wallet.google import (
    GoogleWallet,
    google_config,
    loyalty_class,
    loyalty_object,
    save_link,
)
from tests.conftest import T0
from tests.fixtures.wallet.google_peer import VALIDATORS, GooglePeer, verify_save_jwt

UID = "04A1B2C3D4E5F6"
ISSUER = "3388000000012345678"


@pytest.fixture(scope="module")
def peer():
    p = GooglePeer()
    yield p
    p.close()


@pytest.fixture
def config(box, peer, tmp_path):
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(peer.account))
    settings = dataclasses.replace(
        box.settings,
        google_issuer_id=ISSUER,
        google_service_account=str(key),
        google_api_url=peer.url + "/walletobjects/v1",
        public_url="https://cafe.example",
    )
    return google_config(settings, "Example Cafe")


@pytest.fixture
def member(box):
    return add_member("Dana", card_uid=UID, now=T0)


def test_class_and_object_validate_against_googles_discovery_schema(box, config, member):
    handle(UID, now=T0)
    cls = loyalty_class(config)
    obj = loyalty_object(box, config, member["id"], now=T0)
    assert VALIDATORS["LoyaltyClass"].iter_errors(cls) is not None
    assert list(VALIDATORS["LoyaltyClass"].iter_errors(cls)) == []
    assert list(VALIDATORS["LoyaltyObject"].iter_errors(obj)) == []
    record = ensure_pass(box.db, member["id"], T0)
    assert obj["id"] == f"{ISSUER}.{record.serial}"
    assert obj["classId"] == f"{ISSUER}.stampbox_loyalty"
    card_code = box.db.execute_sql("SELECT code FROM card").fetchone()[0]
    assert obj["barcode"] == {"type": "QR_CODE", "value": card_code,
                              "alternateText": obj["accountId"]}  # fmt: skip
    assert obj["loyaltyPoints"]["balance"] == {"string": "1 / 10"}
    # the converted schema refuses unknown keys and missing required ones
    assert not VALIDATORS["LoyaltyObject"].is_valid({**obj, "loyaltyPoint": {}})
    assert not VALIDATORS["LoyaltyClass"].is_valid(
        {k: v for k, v in cls.items() if k != "programLogo"}
    )


def test_insert_then_409_patches_and_changes_patch_the_object(box, config, member, peer):
    client = GoogleWallet(config)
    before = peer.token_requests
    assert client.upsert_class(loyalty_class(config)) in ("inserted", "patched")
    obj = loyalty_object(box, config, member["id"], now=T0)
    assert client.upsert_object(obj) == "inserted"
    assert client.upsert_object(obj) == "patched"  # 409 → patch
    handle(UID, now=T0)
    changed = loyalty_object(box, config, member["id"], now=T0)
    assert client.patch_object(changed) == "patched"
    client.close()
    assert (
        peer.objects["loyaltyObject"][obj["id"]]["loyaltyPoints"]["balance"]["string"] == "1 / 10"
    )
    # one real OAuth exchange (signed assertion checked by the token endpoint), then reused
    assert peer.token_requests == before + 1
    assert ("PATCH", f"loyaltyObject/{obj['id']}") in peer.calls
    assert peer.invalid == []


def test_three_notifying_messages_a_day_then_silent_ones(box, config, member, peer):
    client = GoogleWallet(config)
    obj = loyalty_object(box, config, member["id"], now=T0)
    client.upsert_object(obj)
    message = {"header": "Double stamps", "body": "All day Friday", "id": "c1"}
    kinds = [
        client.add_message(
            box.db, member["id"], obj["id"], {**message, "id": f"c{i}"}, now=T0 + timedelta(hours=i)
        )  # fmt: skip
        for i in range(4)
    ]
    assert kinds == ["TEXT_AND_NOTIFY"] * 3 + ["TEXT"]
    # a day after the first, one notification is free again
    later = T0 + timedelta(hours=24, minutes=1)
    peer.notified[obj["id"]] = 2  # Google's window moved on too
    assert client.add_message(box.db, member["id"], obj["id"], message, now=later) == (
        "TEXT_AND_NOTIFY"
    )
    client.close()
    assert peer.invalid == []


def test_google_saying_quota_exceeded_falls_back_to_a_silent_message(box, config, member, peer):
    client = GoogleWallet(config)
    obj = loyalty_object(box, config, member["id"], now=T0)
    client.upsert_object(obj)
    peer.notified[obj["id"]] = 3  # used up by another box
    kind = client.add_message(
        box.db, member["id"], obj["id"], {"header": "Hi", "body": "x"}, now=T0
    )
    client.close()
    assert kind == "TEXT"
    assert peer.objects["loyaltyObject"][obj["id"]]["messages"][-1]["messageType"] == "TEXT"


def test_the_save_link_is_an_rs256_savetowallet_jwt(box, config, member, peer):
    obj = loyalty_object(box, config, member["id"], now=T0)
    url = save_link(config, [obj])
    assert url.startswith("https://pay.google.com/gp/v/save/")
    claims = verify_save_jwt(url.rsplit("/", 1)[1], peer.public_key)
    assert claims["typ"] == "savetowallet"
    assert claims["iss"] == peer.account["client_email"]
    assert claims["origins"] == ["https://cafe.example"]
    assert claims["payload"]["loyaltyObjects"] == [obj]
    header = json.loads(
        __import__("base64").urlsafe_b64decode(url.rsplit("/", 1)[1].split(".")[0] + "==")
    )
    assert header["alg"] == "RS256"


def test_cli_prints_the_loyalty_object(box, member, peer, stampbox, cli_env, tmp_path):
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(peer.account))
    cli_env.update(
        STAMPBOX_GOOGLE_ISSUER_ID=ISSUER,
        STAMPBOX_GOOGLE_SERVICE_ACCOUNT=str(key),
        STAMPBOX_PUBLIC_URL="https://cafe.example",
    )
    run = stampbox("wallet", "google-object", str(member["id"]), "--json")
    assert run.returncode == 0, run.stderr
    obj = json.loads(run.stdout)
    assert obj["id"].startswith(ISSUER + ".")
    assert list(VALIDATORS["LoyaltyObject"].iter_errors(obj)) == []


def test_a_members_save_url_carries_their_object(box, config, member, peer, tmp_path):
    from appliance import box as box_mod
    from appliance.wallet.google import member_save_url

    key = tmp_path / "sa.json"
    running = box_mod.start(
        dataclasses.replace(
            box.settings,
            google_issuer_id=ISSUER,
            google_service_account=str(key),
            public_url="https://cafe.example",
        )
    )
    url = member_save_url(running, member["id"], now=T0)
    claims = verify_save_jwt(url.rsplit("/", 1)[1], peer.public_key)
    record = ensure_pass(running.db, member["id"], T0)
    assert claims["payload"]["loyaltyObjects"][0]["id"] == f"{ISSUER}.{record.serial}"
    assert claims["iat"] == int(T0.timestamp())
