"""The local API's OpenAPI 3.0 document, served at /api/openapi.json (no token needed to read)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from appliance.counter import MAX_STAMPS_PER_VISIT

bp = Blueprint("openapi", __name__)

_ERROR = {
    "type": "object",
    "required": ["status", "error"],
    "properties": {"status": {"type": "string", "enum": ["error"]}, "error": {"type": "string"}},
}
_MEMBER = {
    "type": "object",
    "nullable": True,
    "properties": {
        "id": {"type": "integer"},
        "external_id": {"type": "string", "nullable": True},
        "name": {"type": "string"},
    },
}
_VOUCHER = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "example": "VABC-DEFG-HJKM-NPQR"},
        "kind": {"type": "string"},
        "reward": {"type": "string"},
        "valid_from": {"type": "string", "format": "date-time"},
        "valid_until": {"type": "string", "format": "date-time"},
    },
}
_TAP_RESULT = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {
            "type": "string",
            "description": "stamped, cooldown, refused, unknown_card, redeemed, ...",
        },
        "message": {"type": "string", "description": "A sentence to show the person."},
        "reason": {"type": "string", "nullable": True},
        "member": _MEMBER,
        "card": {"type": "object", "nullable": True},
        "stamps_added": {"type": "integer"},
        "vouchers": {"type": "array", "items": _VOUCHER},
        "unlocked": {"type": "array", "items": _VOUCHER},
        "event_id": {"type": "integer", "nullable": True},
    },
}
_REDEEM_RESULT = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {"type": "string", "enum": ["redeemed", "refused"]},
        "reason": {
            "type": "string",
            "nullable": True,
            "enum": ["already_redeemed", "expired", "not_yet_valid", "invalid_code", None],
        },
        "message": {"type": "string"},
        "voucher": {**_VOUCHER, "nullable": True},
        "member": _MEMBER,
        "redeemed_at": {"type": "string", "nullable": True},
        "event_id": {"type": "integer", "nullable": True},
    },
}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _operation(summary: str, body: dict, result: dict) -> dict:
    return {
        "summary": summary,
        "security": [{"device": []}],
        "requestBody": {"required": True, **_json(body)},
        "responses": {
            "200": {"description": "Done or refused; `status` and `message` say which.",
                    **_json(result)},
            "400": {"description": "The body must be fixed; `error` says how.", **_json(_ERROR)},
            "401": {"description": "No valid device token.", **_json(_ERROR)},
            "413": {"description": "The body is too large.", **_json(_ERROR)},
        },
    }  # fmt: skip


DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "Stampbox local API",
        "version": "1",
        "description": "For POS systems and scripts on the shop's network. The owner creates "
        "and revokes device tokens in the admin (Devices).",
    },
    "servers": [{"url": "/"}],
    "components": {"securitySchemes": {"device": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/api/v1/counter/tap": {
            "post": _operation(
                "A card tap or scan at the counter: adds stamps, unlocks rewards.",
                {
                    "type": "object",
                    "required": ["token"],
                    "properties": {
                        "token": {
                            "type": "string",
                            "description": "NFC UID or card code",
                            "example": "04A23B4C5D6E7F",
                        },
                        "stamps": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_STAMPS_PER_VISIT,
                            "default": 1,
                        },
                        "amount": {
                            "oneOf": [{"type": "string", "example": "4.50"}, {"type": "number"}]
                        },
                    },
                },  # fmt: skip
                _TAP_RESULT,
            )
        },
        "/api/v1/vouchers/redeem": {
            "post": _operation(
                "Redeem a voucher code once.",
                {
                    "type": "object",
                    "required": ["code"],
                    "properties": {"code": {"type": "string", "example": "VABC-DEFG-HJKM-NPQR"}},
                },
                _REDEEM_RESULT,
            )
        },
    },
}


@bp.get("/api/openapi.json")
def document():
    return jsonify(DOCUMENT)
