"""The local JSON API for POS systems and scripts: bearer tokens, the core's JSON contract."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from appliance.amounts import parse_amount
from appliance.counter import MAX_STAMPS_PER_VISIT, handle
from appliance.staff import device_for_token
from appliance.vouchers import redeem_voucher

from .errors import json_error

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class BadRequest(ValueError):
    """A request body the device must fix; the message says how."""


@bp.before_request
def require_device():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    device = device_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if device is None:
        return json_error(
            401,
            "A valid device token is needed: send 'Authorization: Bearer <token>'. "
            "The owner creates one with `stampbox device-token create NAME`.",
            **{"WWW-Authenticate": "Bearer"},
        )
    g.device = device


@bp.errorhandler(BadRequest)
def bad_request(exc: BadRequest):
    return json_error(400, str(exc))


def _body() -> dict:
    # force: POS systems often forget the Content-Type header; the body is JSON or refused
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise BadRequest('The body must be a JSON object, like {"token": "04A23B4C5D6E7F"}.')
    return body


def _text(body: dict, key: str, what: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f'"{key}" must be {what}, as text.')
    return value


def _stamps(body: dict) -> int:
    value = body.get("stamps", 1)
    # bool is an int in Python; true is not a number of stamps
    if type(value) is not int or not 1 <= value <= MAX_STAMPS_PER_VISIT:
        raise BadRequest(f'"stamps" must be a whole number from 1 to {MAX_STAMPS_PER_VISIT}.')
    return value


def _amount_cents(body: dict) -> int | None:
    value = body.get("amount")
    if value is None:
        return None
    try:
        return parse_amount(value)
    except ValueError as exc:
        raise BadRequest(f'"amount": {exc}') from None


@bp.post("/counter/tap")
def tap():
    body = _body()
    result = handle(
        _text(body, "token", "the card UID or code read at the counter"),
        source=f"api:{g.device.name}",
        stamps=_stamps(body),
        amount_cents=_amount_cents(body),
    )
    return jsonify(result.to_dict())


@bp.post("/vouchers/redeem")
def redeem():
    body = _body()
    who = f"api:{g.device.name}"
    result = redeem_voucher(_text(body, "code", "the voucher code"), by=who, source=who)
    return jsonify(result.to_dict())
