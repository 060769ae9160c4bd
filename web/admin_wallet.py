"""The owner's wallet setup: certificates and keys, identifiers, colours, logo, shop location,
and a test page that shows the pass and sends a test push. Owner only; CSRF-checked."""

from __future__ import annotations

import base64
import functools

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext

from appliance import box as box_mod
from appliance.refusal import Sentence
from appliance.wallet import PKPASS_TYPE, WalletError, load_signer, make_apple_pass, wallet_box
from appliance.wallet.apple import web_service_url
from appliance.wallet.google import box_google_config
from appliance.wallet.links import (
    add_wallet_link_to_welcome,
    wallet_links,
    welcome_has_wallet_link,
)
from appliance.wallet.preview import (
    check_google,
    preview_pass,
    registrations,
    sample_pkpass,
    send_test_push,
)
from appliance.wallet.setup import fixed_by_box, load_look, logo_file, stored_values
from appliance.wallet.uploads import (
    SetupError,
    remove_apns_key,
    save_apns_key,
    save_apple,
    save_google_key,
    save_identifiers,
    save_look,
    save_pass_logo,
)

from .refusals import explain
from .security import owner_required

bp = Blueprint("admin_wallet", __name__, url_prefix="/admin/wallet")


def _box():
    return box_mod.current()


def _file(name: str) -> bytes:
    upload = request.files.get(name)
    return upload.read() if upload else b""


def _done(message: str, endpoint: str = "admin_wallet.setup", **values):
    flash(explain(message) if isinstance(message, Sentence) else message)
    return redirect(url_for(endpoint, **values))


def _refused(exc: Exception, endpoint: str = "admin_wallet.setup", **values):
    flash(explain(exc), "error")
    return redirect(url_for(endpoint, **values))


def _setup_step(view):
    """A setup form's view returns the sentence to show once it is saved; a refused upload or
    value (SetupError) is shown instead. Either way the owner goes back to the setup page."""

    @functools.wraps(view)
    def run():
        try:
            return _done(view())
        except SetupError as exc:
            return _refused(exc)

    return run


def _apple_status(settings) -> dict:
    status = {"ready": False, "problem": "", "auth": "certificate"}
    if settings.apns_key_file:
        status["auth"] = "token"
    try:
        signer = load_signer(settings)
    except WalletError as exc:
        status["problem"] = explain(exc)
        return status
    status.update(
        ready=True,
        pass_type_id=signer.pass_type_id,
        team_id=signer.team_id,
        expires=signer.cert.not_valid_after_utc.date().isoformat(),
    )
    return status


def _google_status(box) -> dict:
    try:
        config = box_google_config(box)
    except WalletError as exc:
        return {"ready": False, "problem": explain(exc)}
    return {"ready": True, "issuer": config.issuer_id, "email": config.account["client_email"]}


@bp.app_template_global("wallet_link")
def wallet_link(member_id: int) -> str:
    """The member's wallet page address for the member page's QR ("" until a wallet is set up)."""
    return wallet_links(_box(), member_id)["wallet_url"]


@bp.get("")
@owner_required
def setup():
    box = _box()
    settings = wallet_box(box).settings
    return render_template(
        "admin/wallet.html",
        settings=settings,
        stored=stored_values(box.db),
        fixed=fixed_by_box(box.settings),
        look=load_look(box.db),
        apple=_apple_status(settings),
        google=_google_status(box),
        updates_apple=bool(web_service_url(settings.public_url)),
        has_logo=logo_file(box.settings).exists(),
        welcome_link=welcome_has_wallet_link(box),
    )


@bp.post("/identifiers")
@owner_required
@_setup_step
def identifiers():
    save_identifiers(_box(), g.staff.username, request.form)
    return gettext("Identifiers saved.")


@bp.post("/apple")
@owner_required
@_setup_step
def apple():
    signer = save_apple(
        _box(),
        g.staff.username,
        cert=_file("cert"),
        key=_file("key"),
        wwdr=_file("wwdr"),
        p12=_file("p12"),
        p12_password=request.form.get("p12_password", ""),
    )
    return gettext(
        "Apple Wallet certificate saved for %(pass_type)s.", pass_type=signer.pass_type_id
    )


@bp.post("/apns-key")
@owner_required
@_setup_step
def apns_key():
    form = request.form
    save_apns_key(
        _box(), g.staff.username, _file("p8"), form.get("key_id", ""), form.get("team_id", "")
    )
    return gettext("APNs key saved: pushes now use token authentication.")


@bp.post("/apns-key/remove")
@owner_required
@_setup_step
def apns_key_remove():
    remove_apns_key(_box(), g.staff.username)
    return gettext("APNs key removed: pushes use the certificate again.")


@bp.post("/google")
@owner_required
@_setup_step
def google():
    info = save_google_key(_box(), g.staff.username, _file("key"))
    return gettext("Google service account %(email)s saved.", email=info["client_email"])


@bp.post("/look")
@owner_required
@_setup_step
def look():
    save_look(_box(), g.staff.username, request.form)
    return gettext("Colours and location saved.")


@bp.post("/logo")
@owner_required
@_setup_step
def logo():
    save_pass_logo(_box(), g.staff.username, _file("logo"))
    return gettext("Pass logo saved.")


@bp.post("/welcome-link")
@owner_required
def welcome_link():
    changed = add_wallet_link_to_welcome(_box(), g.staff.username)
    return _done(
        gettext(
            "The wallet link was added to %(count)s language(s) of the welcome email.",
            count=changed,
        )
    )


@bp.get("/test")
@owner_required
def test_page():
    box = _box()
    member_id = request.args.get("member", type=int)
    try:
        preview = preview_pass(box, member_id)
    except WalletError as exc:
        flash(explain(exc), "error")
        preview = preview_pass(box)
    settings = wallet_box(box).settings
    return render_template(
        "admin/wallet_test.html",
        preview=preview,
        strip=base64.b64encode(preview.strip_png).decode(),
        member_id=member_id,
        apple=_apple_status(settings),
        google=_google_status(box),
        devices=registrations(box.db),
    )


@bp.get("/test/<int:member_id>.pkpass")
@owner_required
def test_pass(member_id: int):
    """The member's signed pass, or with 0 the sample, to open on the owner's own iPhone."""
    box = _box()
    try:
        data = make_apple_pass(box, member_id)[0] if member_id else sample_pkpass(box)
    except WalletError as exc:
        return _refused(exc, "admin_wallet.test_page")
    response = Response(data, mimetype=PKPASS_TYPE)
    name = f"member-{member_id}" if member_id else "sample"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.pkpass"'
    return response


@bp.post("/test/push")
@owner_required
def test_push():
    try:
        message = send_test_push(_box(), request.form.get("registration", 0, type=int))
    except WalletError as exc:
        return _refused(exc, "admin_wallet.test_page")
    return _done(message, "admin_wallet.test_page")


@bp.post("/test/google")
@owner_required
def test_google():
    try:
        message = check_google(_box())
    except WalletError as exc:
        return _refused(exc, "admin_wallet.test_page")
    return _done(message, "admin_wallet.test_page")
