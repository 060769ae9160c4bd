"""The local JSON API: device tokens, the tap contract, refusals as sentences."""

from __future__ import annotations

import pytest

from appliance.members import add_member
from appliance.models import CounterEvent, Visit
from appliance.staff import create_device_token, revoke_device_token

from .conftest import T0
from .test_web import make_app

UID = "04A23B4C5D6E7F"
CONTRACT = {"status", "message", "member", "card", "stamps_added", "vouchers", "unlocked"}


@pytest.fixture
def api(settings, init_info):
    return make_app(settings).test_client()


@pytest.fixture
def token(box):
    return create_device_token("till-1")


def _tap(api, token, body, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return api.post("/api/v1/counter/tap", json=body, headers=headers, **kwargs)


@pytest.mark.parametrize("header", [None, "Bearer sbx_wrong", "Basic b3duZXI6eA==", "Bearer "])
def test_the_api_needs_a_valid_device_token(api, token, header):
    headers = {"Authorization": header} if header else {}
    response = api.post("/api/v1/counter/tap", json={"token": UID}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json["error"]
    assert CounterEvent.select().count() == 0


def test_a_revoked_token_is_refused(api, token):
    assert revoke_device_token("till-1", now=T0)
    assert _tap(api, token, {"token": UID}).status_code == 401


def test_a_tap_returns_the_counter_result_contract(api, token):
    add_member("Anna", card_uid=UID)
    response = _tap(api, token, {"token": UID, "stamps": 2, "amount": "4.50"})
    assert response.status_code == 200
    data = response.json
    assert CONTRACT <= set(data)
    assert data["status"] == "stamped"
    assert data["member"]["name"] == "Anna"
    assert data["card"]["stamps"] == 2
    assert data["stamps_added"] == 2
    assert data["source"] == "api:till-1"
    assert Visit.get().amount_cents == 450


def test_refusals_are_results_with_status_200(api, token):
    unknown = _tap(api, token, {"token": UID})
    assert (unknown.status_code, unknown.json["status"]) == (200, "unknown_card")
    assert CONTRACT <= set(unknown.json)
    add_member("Anna", card_uid=UID)
    assert _tap(api, token, {"token": UID}).json["status"] == "stamped"
    cooldown = _tap(api, token, {"token": UID})
    assert (cooldown.status_code, cooldown.json["status"]) == (200, "cooldown")
    junk = _tap(api, token, {"token": "hello"})
    assert (junk.status_code, junk.json["status"]) == (200, "refused")


@pytest.mark.parametrize(
    "body, says",
    [
        (b"{not json", "must be a JSON object"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"stamps": 1}', '"token" must be'),
        (b'{"token": 42}', '"token" must be'),
        (b'{"token": "04A23B4C5D6E7F", "stamps": 0}', '"stamps" must be a whole number'),
        (b'{"token": "04A23B4C5D6E7F", "stamps": 51}', '"stamps" must be a whole number'),
        (b'{"token": "04A23B4C5D6E7F", "stamps": "2"}', '"stamps" must be a whole number'),
        (b'{"token": "04A23B4C5D6E7F", "stamps": true}', '"stamps" must be a whole number'),
        (b'{"token": "04A23B4C5D6E7F", "stamps": 1.5}', '"stamps" must be a whole number'),
        (b'{"token": "04A23B4C5D6E7F", "amount": "4.505"}', "at most 2 decimals"),
        (b'{"token": "04A23B4C5D6E7F", "amount": "-1"}', "out of range"),
        (b'{"token": "04A23B4C5D6E7F", "amount": "NaN"}', '"amount": '),
    ],
)
def test_a_malformed_body_is_refused_with_a_sentence(api, token, body, says):
    add_member("Anna", card_uid=UID)
    response = api.post(
        "/api/v1/counter/tap",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert says in response.json["error"]
    assert response.json["error"].endswith(".")
    assert Visit.select().count() == 0


def test_a_voucher_is_redeemed_once_through_the_api(api, token):
    add_member("Anna", card_uid=UID)
    code = _tap(api, token, {"token": UID, "stamps": 10}).json["unlocked"][0]["code"]
    headers = {"Authorization": f"Bearer {token}"}
    first = api.post("/api/v1/vouchers/redeem", json={"code": code}, headers=headers)
    second = api.post("/api/v1/vouchers/redeem", json={"code": code}, headers=headers)
    assert (first.status_code, first.json["status"]) == (200, "redeemed")
    assert (second.json["status"], second.json["reason"]) == ("refused", "already_redeemed")
    assert {"status", "reason", "message", "voucher", "member"} <= set(first.json)


def test_an_unknown_api_address_is_a_json_sentence(api, token):
    response = api.get("/api/v1/nothing", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    assert response.json["error"].startswith("There is no page at this address")
