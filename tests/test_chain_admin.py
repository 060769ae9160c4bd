"""The owner's chain page: sync state, and voucher conflicts the mirror brought back, settled
by a policy (absorb, claw back, alert). The conflict is made by the mirror's own code from
the state the centre would publish."""

from datetime import timedelta

import pytest

from appliance import box as box_mod
from appliance.chain import box_id
from appliance.chain.conflicts import open_conflicts
from appliance.chain.mirror import apply_voucher
from appliance.clock import to_micros
from appliance.counter import handle
from appliance.members import add_member
from appliance.staff import create_staff
from appliance.vouchers import redeem_voucher

from .conftest import T0
from .test_web import csrf_token, log_in, make_app

UID = "04A23B4C5D6E7F"


@pytest.fixture
def client(settings, init_info):
    client = make_app(settings).test_client()
    log_in(client, init_info["owner"]["password"])
    return client


def _db():
    return box_mod.current().db


def _lost_redemption(rounds=2):
    """Anna's first voucher, redeemed here and then lost to another shop's redemption."""
    db = _db()  # the web app's (create_app started the box again)
    add_member("Anna", card_uid=UID, now=T0)
    codes = [
        handle(UID, "t", stamps=10, now=T0 + timedelta(hours=i + 1)).unlocked[0]["code"]
        for i in range(rounds)
    ]
    first = codes[0].replace("-", "")
    assert redeem_voucher(codes[0], now=T0 + timedelta(days=1)).status == "redeemed"
    db.execute_sql("UPDATE voucher SET chain_event = 'e-here' WHERE code = ?", (first,))
    state = {
        "voucher": first,
        "redeemed": {"box": "other-box", "event": "e-there", "at": to_micros(T0)},
        "conflicts": [
            {"box": box_id(db), "event": "e-here", "at": to_micros(T0), "winner": "other-box"}
        ],
    }
    with db.atomic():
        assert apply_voucher(db, box_id(db), state, to_micros(T0)) == "conflict"
    return codes


def test_the_owner_sees_the_sync_state_and_an_open_conflict(client):
    codes = _lost_redemption()
    page = client.get("/admin/chain").get_data(as_text=True)
    assert "Events waiting to be sent" in page and box_id(_db()) in page
    assert codes[0].replace("-", "") in page and "Free coffee" in page and "Anna" in page
    assert open_conflicts(_db()) == 1


def test_claw_back_voids_another_voucher_of_the_member_and_closes_the_conflict(client):
    codes = _lost_redemption()
    [cid] = _db().execute_sql("SELECT id FROM chain_conflict").fetchone()
    token = csrf_token(client.get("/admin/chain"))
    response = client.post(
        f"/admin/chain/conflicts/{cid}", data={"policy": "claw_back", "csrf_token": token}
    )
    assert response.status_code == 302
    second = codes[1].replace("-", "")
    voided = _db().execute_sql("SELECT voided_at FROM voucher WHERE code = ?", (second,))
    assert voided.fetchone()[0] is not None
    assert redeem_voucher(codes[1], now=T0 + timedelta(days=2)).reason == "expired"
    assert open_conflicts(_db()) == 0


def test_absorb_as_the_default_settles_new_conflicts_at_once(client):
    token = csrf_token(client.get("/admin/chain"))
    client.post("/admin/chain/policy", data={"policy": "absorb", "csrf_token": token})
    _lost_redemption(rounds=1)
    assert open_conflicts(_db()) == 0
    row = _db().execute_sql("SELECT policy, resolved_by FROM chain_conflict").fetchone()
    assert row == ("absorb", "chain")


def test_staff_may_not_see_the_chain_page(settings, init_info):
    create_staff("barista", "barista-password-1", "staff", actor="owner", must_change=False)
    client = make_app(settings).test_client()
    log_in(client, "barista-password-1", username="barista")
    assert client.get("/admin/chain").status_code == 403


def test_the_status_json_carries_the_sync_state_in_chain_mode(settings, init_info):
    import dataclasses

    chained = dataclasses.replace(settings, chain_nats_url="nats://127.0.0.1:4222")
    client = make_app(chained).test_client()
    log_in(client, init_info["owner"]["password"])
    add_member("Anna", card_uid=UID, now=T0)
    handle(UID, "t", now=T0)
    chain = client.get("/admin/status.json").get_json()["chain"]
    assert chain["pending_events"] == 3 and chain["open_conflicts"] == 0  # enrolment: 2
    assert chain["box_id"] == box_id(_db())


def test_a_settled_conflicts_note_reads_in_the_owners_language_and_is_kept_in_english(client):
    codes = _lost_redemption()
    [cid] = _db().execute_sql("SELECT id FROM chain_conflict").fetchone()
    token = csrf_token(client.get("/admin/chain"))
    client.post(f"/admin/chain/conflicts/{cid}", data={"policy": "claw_back", "csrf_token": token})
    second = codes[1].replace("-", "")
    [note] = _db().execute_sql("SELECT note FROM chain_conflict").fetchone()
    assert note == f"voided {second}"  # the record, as the audit log, in English
    assert f"(voided {second})" in client.get("/admin/chain").get_data(as_text=True)
    hebrew = client.get("/admin/chain?lang=he").get_data(as_text=True)
    assert f"(בוטל {second})" in hebrew and "voided" not in hebrew
    # a note the box does not know how to read back shows as it was written
    _db().execute_sql("UPDATE chain_conflict SET note = 'set by hand <b>'")
    page = client.get("/admin/chain?lang=en").get_data(as_text=True)
    assert "(set by hand &lt;b&gt;)" in page


def test_nothing_to_take_back_yet_reads_in_hebrew_too(client):
    _lost_redemption(rounds=1)
    [cid] = _db().execute_sql("SELECT id FROM chain_conflict").fetchone()
    token = csrf_token(client.get("/admin/chain"))
    client.post(f"/admin/chain/conflicts/{cid}", data={"policy": "claw_back", "csrf_token": token})
    hebrew = client.get("/admin/chain?lang=he").get_data(as_text=True)
    assert "(עדיין אין שובר אחר לקחת בחזרה)" in hebrew
    assert open_conflicts(_db()) == 1  # still open: nothing was taken back
