"""Public addresses that messages and the SMS provider reach without a login.

- `/voucher/<code>/qr.png`: the QR image of a voucher code (the `voucher_qr` variable in
  messages). Only a validly signed voucher code gets one, and the answer depends on the code
  alone: no database read, so it tells nobody whether the voucher exists, was used or whose
  it is.
- `/sms/inbound`: the SMS provider's webhook for replies (Twilio's form post). Authenticated as
  Twilio does it, by X-Twilio-Signature under the SMS token; a STOP word withdraws the number's
  SMS consent, START gives it back. Exempt from CSRF: the signature is the proof.
"""

from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, Response, abort, current_app, request

from appliance import box as box_mod
from appliance.channels.delivery import voucher_qr_png
from appliance.channels.sms import signature_ok
from appliance.channels.unsubscribe import sms_reply
from appliance.codes import CodeError, parse_code

from .extensions import csrf

bp = Blueprint("public", __name__)
# an empty TwiML answer: no reply text (the provider itself confirms a STOP to the sender)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@lru_cache(maxsize=256)
def _qr(code: str) -> bytes:
    return voucher_qr_png(code)


@bp.get("/voucher/<code>/qr.png")
def voucher_qr(code: str):
    if len(code) > 40:
        abort(404)
    try:
        kind, canonical = parse_code(box_mod.current().code_key, code)
    except CodeError:
        abort(404)
    if kind != "V":
        abort(404)  # a card's code is the member's identity at the counter: never drawn here
    response = Response(_qr(canonical), mimetype="image/png")
    # the picture of a code never changes
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def _urls() -> list[str]:
    """The addresses the provider may have signed: the public one the owner gave it, and the
    one this request arrived at (they differ behind the box's nginx)."""
    public = current_app.config["STAMPBOX_SETTINGS"].public_url.rstrip("/")
    path = request.full_path.rstrip("?")
    return [public + path, request.url]


@bp.post("/sms/inbound")
@csrf.exempt
def sms_inbound():
    settings = current_app.config["STAMPBOX_SETTINGS"]
    if not settings.sms_token:
        abort(404)  # SMS is not set up: nothing to authenticate against
    params = list(request.form.items(multi=True))
    if not signature_ok(
        _urls(), params, request.headers.get("X-Twilio-Signature", ""), settings.sms_token
    ):
        abort(403)
    account = request.form.get("AccountSid")
    if account is not None and settings.sms_account and account != settings.sms_account:
        abort(403)
    body = request.form.get("Body", "")
    # Twilio's Advanced Opt-Out names the keyword's meaning (the shop may have set keywords
    # in the customers' languages there); without it the body itself is read
    kind = request.form.get("OptOutType", "").upper()
    sms_reply(request.form.get("From", ""), kind if kind in ("STOP", "START") else body)
    return Response(EMPTY_TWIML, mimetype="text/xml")
