"""Coalesced pass updates pushed over HTTP/2 to an APNs-shaped h2 peer on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest

from appliance.counter import handle
from appliance.members import add_member
from appliance.wallet import ensure_pass
from appliance.wallet.apns import ApnsClient
from appliance.wallet.service import register
from appliance.wallet.updates import mark_dirty, send_updates
from tests.conftest import T0
from tests.fixtures.wallet.apns_peer import ApnsPeer
from tests.fixtures.wallet.pki import PASS_TYPE_ID, make_pki

UID = "04A1B2C3D4E5F6"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def peer(pki):
    p = ApnsPeer(
        pki.paths["server_chain"], pki.paths["server_key"],
        [pki.paths["root"], pki.paths["cert"].with_name("wwdr.pem")], PASS_TYPE_ID,
    )  # fmt: skip
    yield p
    p.close()


@pytest.fixture(scope="module", autouse=True)
def wwdr_pem(pki):
    from cryptography.hazmat.primitives.serialization import Encoding

    pki.paths["cert"].with_name("wwdr.pem").write_bytes(pki.wwdr.public_bytes(Encoding.PEM))


def apns_for(pki, url, topic=PASS_TYPE_ID, cert=True):
    return ApnsClient(
        url,
        topic,
        cert=str(pki.paths["cert"]) if cert else "",
        key=str(pki.paths["key"]) if cert else "",
        cafile=str(pki.paths["root"]),
    )


@pytest.fixture
def saved(box):
    """A member whose pass is on two phones."""
    member = add_member("Dana", card_uid=UID, now=T0)
    record = ensure_pass(box.db, member["id"], T0)
    auth = f"ApplePass {record.auth_token}"
    for device, token in (("phone", "a1" * 32), ("watch", "b2" * 32)):
        reply = register(box.db, PASS_TYPE_ID, device, PASS_TYPE_ID, record.serial, auth,
                         {"pushToken": token}, now=T0)  # fmt: skip
        assert reply.status == 201
    return member, record


def _dirty(box):
    return box.db.execute_sql("SELECT member_id, attempts FROM wallet_dirty").fetchall()


def _tag(box, member_id):
    sql = "SELECT update_tag FROM wallet_pass WHERE member_id = ?"
    return box.db.execute_sql(sql, (member_id,)).fetchone()[0]


def test_ten_taps_give_one_update_pushed_to_every_device_over_http2(box, saved, peer, pki):
    member, record = saved
    for i in range(10):
        assert handle(UID, now=T0 + timedelta(hours=i)).status == "stamped"
    assert _dirty(box) == [(member["id"], 0)]
    apns = apns_for(pki, peer.url)
    counts = send_updates(box.db, T0 + timedelta(hours=10), apns=apns)
    apns.close()
    assert (counts.passes, counts.pushed, counts.later) == (1, 2, 0)
    assert _dirty(box) == []
    assert _tag(box, member["id"]) > record.update_tag
    assert sorted(r["token"] for r in peer.requests) == ["a1" * 32, "b2" * 32]
    for request in peer.requests:
        assert request["headers"][":method"] == "POST"
        assert request["headers"]["apns-topic"] == PASS_TYPE_ID
        assert request["body"] == b"{}"
        assert request["client"]["userId"] == PASS_TYPE_ID
    assert peer.protocols and set(peer.protocols) == {"h2"}  # HTTP/1.1 never used
    # nothing left to send: a second round pushes nothing
    assert send_updates(box.db, T0 + timedelta(hours=11), apns=apns).passes == 0


def test_410_removes_the_registration(box, saved, peer, pki):
    member, _ = saved
    peer.gone.add("a1" * 32)
    handle(UID, now=T0)
    apns = apns_for(pki, peer.url)
    counts = send_updates(box.db, T0, apns=apns)
    apns.close()
    assert (counts.pushed, counts.unregistered) == (1, 1)
    left = box.db.execute_sql("SELECT device_id FROM wallet_registration").fetchall()
    assert left == [("watch",)]
    assert _dirty(box) == []


def test_offline_updates_wait_with_backoff_and_are_delivered_later(box, saved, peer, pki):
    member, _ = saved
    handle(UID, now=T0)
    closed = ApnsPeer(pki.paths["server_chain"], pki.paths["server_key"], [pki.paths["root"]],
                      PASS_TYPE_ID)  # fmt: skip
    closed.close()  # nobody listens there: the box is offline
    offline = apns_for(pki, closed.url)
    counts = send_updates(box.db, T0, apns=offline)
    assert counts.later == 1 and "unreachable" in counts.errors[0]
    assert _dirty(box) == [(member["id"], 1)]
    # more taps while offline: still one pending update; not due before its back-off
    handle(UID, now=T0 + timedelta(hours=1))
    assert _dirty(box) == [(member["id"], 1)]
    assert send_updates(box.db, T0 + timedelta(seconds=10), apns=offline).passes == 0
    offline.close()
    online = apns_for(pki, peer.url)
    counts = send_updates(box.db, T0 + timedelta(hours=2), apns=online)
    online.close()
    assert (counts.passes, counts.pushed) == (1, 2)
    assert _dirty(box) == []


def test_a_tap_during_the_update_is_not_lost(box, saved, peer, pki):
    member, _ = saved
    handle(UID, now=T0)
    apns = apns_for(pki, peer.url)
    # the Google step runs after the pushes; a tap lands right then
    send_updates(box.db, T0, apns=apns,
                 google=lambda m: mark_dirty(box.db, m, T0 + timedelta(seconds=1)))  # fmt: skip
    assert _dirty(box) == [(member["id"], 0)]
    assert send_updates(box.db, T0 + timedelta(seconds=2), apns=apns).pushed == 2
    apns.close()
    assert _dirty(box) == []


def test_the_peer_refuses_a_wrong_topic_and_a_missing_certificate(box, saved, peer, pki):
    handle(UID, now=T0)
    wrong = apns_for(pki, peer.url, topic="pass.other")
    counts = send_updates(box.db, T0, apns=wrong)
    wrong.close()
    assert counts.later == 1 and "DeviceTokenNotForTopic" in counts.errors[0]
    anonymous = apns_for(pki, peer.url, cert=False)
    counts = send_updates(box.db, T0 + timedelta(hours=1), apns=anonymous)
    anonymous.close()
    assert counts.later == 1 and peer.refused_handshakes >= 1
    assert len(_dirty(box)) == 1


def test_members_without_a_pass_get_no_pending_update(box):
    add_member("Eli", card_uid="04FFEEDDCCBBAA", now=T0)
    handle("04FFEEDDCCBBAA", now=T0)
    assert _dirty(box) == []


def test_the_worker_round_pushes_apple_and_patches_google(box, saved, peer, pki, tmp_path,
                                                          monkeypatch):  # fmt: skip
    import dataclasses
    import json

    from appliance import box as box_mod
    from appliance.wallet.worker import run_wallet_updates
    from tests.fixtures.wallet.google_peer import GooglePeer

    google = GooglePeer()
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(google.account))
    settings = dataclasses.replace(
        box.settings,
        public_url="https://cafe.example",
        apple_cert=str(pki.paths["cert"]),
        apple_key=str(pki.paths["key"]),
        apple_wwdr=str(pki.paths["wwdr"]),
        apns_url=peer.url,
        google_issuer_id="3388000000012345678",
        google_service_account=str(key),
        google_api_url=google.url + "/walletobjects/v1",
    )
    # the box trusts the test root for APNs the way it trusts the system's roots
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.paths["root"]))
    running = box_mod.start(settings)
    member, record = saved
    handle(UID, now=T0, box=running)
    counts = run_wallet_updates(running, now=T0)
    google.close()
    assert (counts.passes, counts.pushed, counts.google, counts.later) == (1, 2, 1, 0)
    stored = google.objects["loyaltyObject"][f"3388000000012345678.{record.serial}"]
    assert stored["loyaltyPoints"]["balance"]["string"] == "1 / 10"
    assert google.invalid == []


def test_token_auth_makes_an_es256_jwt_apns_accepts(pki):
    import base64
    import json

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from appliance.wallet.apns import TokenAuth

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    token = TokenAuth(pem, "ABC123DEFG", "TEAM123456").jwt(now=1_790_000_000)
    header, claims, signature = token.split(".")

    def unb64(part):
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    assert json.loads(unb64(header)) == {"alg": "ES256", "kid": "ABC123DEFG"}
    assert json.loads(unb64(claims)) == {"iss": "TEAM123456", "iat": 1_790_000_000}
    raw = unb64(signature)
    assert len(raw) == 64  # JOSE form: r || s, not DER
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))


def test_a_peer_offering_only_http1_gets_no_request(box, saved, pki):
    trusted = [pki.paths["root"], pki.paths["cert"].with_name("wwdr.pem")]
    peer = ApnsPeer(pki.paths["server_chain"], pki.paths["server_key"], trusted, PASS_TYPE_ID)
    peer.ctx.set_alpn_protocols(["http/1.1"])
    handle(UID, now=T0)
    apns = apns_for(pki, peer.url)
    counts = send_updates(box.db, T0, apns=apns)
    apns.close()
    peer.close()
    assert counts.later == 1 and counts.pushed == 0
    # we offered only h2: no protocol agreed, the peer hung up, nothing was sent
    assert peer.requests == []
    assert "http/1.1" not in peer.protocols


def test_a_redeemed_voucher_updates_the_pass_once(box, saved, peer, pki):
    from appliance.vouchers import redeem_voucher

    member, _ = saved
    for i in range(10):  # a full card: the reward voucher is issued in the tap
        handle(UID, now=T0 + timedelta(hours=i))
    apns = apns_for(pki, peer.url)
    assert send_updates(box.db, T0 + timedelta(hours=10), apns=apns).passes == 1
    # nothing changed since: the sweep marks nothing
    assert send_updates(box.db, T0 + timedelta(hours=11), apns=apns).passes == 0
    code = box.db.execute_sql("SELECT code FROM voucher").fetchone()[0]
    assert redeem_voucher(code, now=T0 + timedelta(hours=12)).status == "redeemed"
    assert send_updates(box.db, T0 + timedelta(hours=12, minutes=1), apns=apns).pushed == 2
    assert send_updates(box.db, T0 + timedelta(hours=13), apns=apns).passes == 0
    apns.close()


def test_the_worker_round_drains_more_than_one_batch(box):
    from appliance.models import Member
    from appliance.wallet.worker import BATCH, run_wallet_updates

    Member.insert_many([{"name": "m", "joined_at": T0}] * (BATCH + 20)).execute()
    ids = [r[0] for r in box.db.execute_sql("SELECT id FROM member").fetchall()]
    for member_id in ids:
        ensure_pass(box.db, member_id, T0)
        mark_dirty(box.db, member_id, T0)
    counts = run_wallet_updates(box, now=T0 + timedelta(minutes=1))
    assert counts.passes == len(ids) > BATCH
    assert _dirty(box) == []


def test_erasing_a_member_voids_their_passes_once(box, saved, peer, pki, tmp_path):
    import json

    from appliance.member_rights import erase_member
    from tests.fixtures.wallet.google_peer import GooglePeer

    member, record = saved
    google = GooglePeer()
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(google.account))
    from dataclasses import replace

    from appliance.wallet.google import GoogleWallet, google_config, loyalty_object

    config = google_config(
        replace(box.settings, google_issuer_id="3388000000012345678",
                google_service_account=str(key), google_api_url=google.url + "/walletobjects/v1")
    )  # fmt: skip
    client = GoogleWallet(config)
    client.upsert_object(loyalty_object(box, config, member["id"], T0))
    erase_member(member["id"], actor="owner", now=T0 + timedelta(hours=1))
    apns = apns_for(pki, peer.url)

    def patch(member_id):
        client.patch_object(loyalty_object(box, config, member_id, T0 + timedelta(hours=2)))

    counts = send_updates(box.db, T0 + timedelta(hours=2), apns=apns, google=patch)
    assert (counts.passes, counts.pushed, counts.google) == (1, 2, 1)
    assert send_updates(box.db, T0 + timedelta(hours=3), apns=apns, google=patch).passes == 0
    apns.close()
    client.close()
    google.close()
    stored = google.objects["loyaltyObject"][f"3388000000012345678.{record.serial}"]
    assert stored["state"] == "INACTIVE"
    assert stored["accountName"] == stored["accountId"] == ""
    assert stored["barcode"]["value"] == "-"
    assert "Dana" not in json.dumps(stored)
    assert google.invalid == []


def _p8(tmp_path, name="AuthKey.p8"):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / name
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key, path


def _token_round(box, saved, pki, tmp_path, monkeypatch, signing_key_path, peer_key):
    import dataclasses

    from appliance import box as box_mod
    from appliance.wallet.worker import run_wallet_updates

    peer = ApnsPeer(
        pki.paths["server_chain"], pki.paths["server_key"], [pki.paths["root"]], PASS_TYPE_ID,
        token_key=peer_key.public_key(), key_id="KEYID12345", team_id="TEAM123456",
    )  # fmt: skip
    settings = dataclasses.replace(
        box.settings,
        public_url="https://cafe.example",
        apple_cert=str(pki.paths["cert"]),
        apple_key=str(pki.paths["key"]),
        apple_wwdr=str(pki.paths["wwdr"]),
        apns_url=peer.url,
        apns_key_file=str(signing_key_path),
        apns_key_id="KEYID12345",  # the team comes from the pass certificate
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.paths["root"]))
    running = box_mod.start(settings)
    handle(UID, now=T0, box=running)
    try:
        return run_wallet_updates(running, now=T0), peer
    finally:
        peer.close()


def test_token_auth_pushes_reach_a_peer_demanding_a_valid_jwt(
    box, saved, pki, tmp_path, monkeypatch
):
    key, path = _p8(tmp_path)
    counts, peer = _token_round(box, saved, pki, tmp_path, monkeypatch, path, key)
    assert (counts.passes, counts.pushed, counts.later) == (1, 2, 0), counts.errors
    # no client certificate was offered; one provider token served both pushes
    assert [r["client"] for r in peer.requests] == [{}, {}]
    assert len(peer.jwts) == 2 and len(set(peer.jwts)) == 1
    assert set(peer.protocols) == {"h2"}


def test_a_token_signed_by_another_key_is_refused_and_the_update_waits(
    box, saved, pki, tmp_path, monkeypatch
):
    key, _ = _p8(tmp_path, "apple-has-this.p8")
    _, wrong = _p8(tmp_path, "another.p8")
    counts, peer = _token_round(box, saved, pki, tmp_path, monkeypatch, wrong, key)
    assert (counts.pushed, counts.later) == (0, 1)
    assert "InvalidProviderToken" in counts.errors[0]
    assert _dirty(box)[0][1] == 1  # still pending, one attempt counted


def test_token_auth_without_a_key_id_says_what_is_missing(box, pki, tmp_path):
    import dataclasses

    from appliance.wallet import WalletError
    from appliance.wallet.worker import apns_client

    _, path = _p8(tmp_path)
    settings = dataclasses.replace(
        box.settings,
        apple_cert=str(pki.paths["cert"]),
        apple_key=str(pki.paths["key"]),
        apple_wwdr=str(pki.paths["wwdr"]),
        apns_key_file=str(path),
    )
    with pytest.raises(WalletError, match="STAMPBOX_APNS_KEY_ID"):
        apns_client(settings)


def test_a_broken_apns_setup_keeps_the_update_waiting(box, saved, pki, tmp_path):
    import dataclasses

    from appliance import box as box_mod
    from appliance.wallet.worker import run_wallet_updates

    _, path = _p8(tmp_path)
    settings = dataclasses.replace(
        box.settings,
        public_url="https://cafe.example",
        apple_cert=str(pki.paths["cert"]),
        apple_key=str(pki.paths["key"]),
        apple_wwdr=str(pki.paths["wwdr"]),
        apns_key_file=str(path),  # and no key id: the owner has to finish the setup
    )
    running = box_mod.start(settings)
    handle(UID, now=T0, box=running)
    counts = run_wallet_updates(running, now=T0)
    assert (counts.passes, counts.pushed, counts.later) == (1, 0, 1)
    assert "STAMPBOX_APNS_KEY_ID" in counts.errors[0]
    assert _dirty(box) == [(saved[0]["id"], 1)]
