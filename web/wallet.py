"""The PassKit web service for Apple Wallet under /wallet/apple/v1 (Apple's servers and phones
call it with `Authorization: ApplePass <token>`, never with a session: CSRF does not apply)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from appliance import box as box_mod
from appliance.clock import utcnow
from appliance.wallet import (
    PKPASS_TYPE,
    WalletError,
    load_signer,
    pass_style,
    service,
    wallet_box,
)
from appliance.wallet.apple import build_pkpass, pass_files
from appliance.wallet.cards import card_state

bp = Blueprint("wallet", __name__, url_prefix="/wallet/apple/v1")
# what customers and Google fetch without logging in: the pass logo
public = Blueprint("wallet_public", __name__, url_prefix="/wallet")


def _pass_type_id() -> str:
    settings = wallet_box(box_mod.current()).settings
    if settings.apple_pass_type_id:
        return settings.apple_pass_type_id
    try:
        return load_signer(settings).pass_type_id
    except WalletError:
        return ""


def _reply(reply: service.Reply) -> Response:
    if reply.json is not None:
        response = jsonify(reply.json)
    else:
        response = Response(reply.body, mimetype=PKPASS_TYPE if reply.body else None)
    response.status_code = reply.status
    response.headers.update(reply.headers)
    return response


def _db():
    return box_mod.current().db


_REG = "/devices/<device_id>/registrations/<type_id>/<serial>"


@bp.post(_REG)
def register(device_id, type_id, serial):
    body = request.get_json(force=True, silent=True)
    auth = request.headers.get("Authorization")
    return _reply(service.register(_db(), _pass_type_id(), device_id, type_id, serial, auth, body))


@bp.delete(_REG)
def unregister(device_id, type_id, serial):
    auth = request.headers.get("Authorization")
    return _reply(service.unregister(_db(), _pass_type_id(), device_id, type_id, serial, auth))


@bp.get("/devices/<device_id>/registrations/<type_id>")
def updated(device_id, type_id):
    since = request.args.get("passesUpdatedSince")
    return _reply(service.updated_serials(_db(), _pass_type_id(), device_id, type_id, since))


@bp.get("/passes/<type_id>/<serial>")
def latest(type_id, serial):
    box = box_mod.current()

    def build(record):
        try:
            signer = load_signer(wallet_box(box).settings)
            state = card_state(box.db, record.member_id, utcnow(), closed_ok=True)
        except WalletError:
            # the member was erased or lost their last card: the phone keeps what it has
            abort(404)
        files = pass_files(state, record, signer, pass_style(box))
        return build_pkpass(files, signer)

    return _reply(
        service.latest_pass(
            box.db,
            _pass_type_id(),
            type_id,
            serial,
            request.headers.get("Authorization"),
            request.headers.get("If-Modified-Since"),
            build,
        )
    )


@bp.post("/log")
def device_log():
    return _reply(service.device_log(request.get_json(force=True, silent=True)))


@public.get("/logo.png")
def logo():
    """The pass logo for Google's programLogo (Google fetches it from the public address)."""
    from appliance.wallet import shop_name
    from appliance.wallet.images import logo_png
    from appliance.wallet.setup import logo_file

    box = box_mod.current()
    path = logo_file(box.settings)
    data = path.read_bytes() if path.exists() else logo_png(shop_name(box), 3)
    response = Response(data, mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
