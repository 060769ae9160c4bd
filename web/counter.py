"""The counter screen: live taps for the barista, Redeem buttons, enrolment of unknown cards."""

from __future__ import annotations

import functools

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from appliance import box as box_mod
from appliance.channels.unsubscribe import preferences_url
from appliance.counter import MAX_STAMPS_PER_VISIT, handle
from appliance.feedback import SIGNALS
from appliance.members import MemberError, add_member
from appliance.printer_status import last_slip_path, printer_state
from appliance.printing import enqueue, print_birthday_gift, settle_unsure
from appliance.receipts import enrolment_receipt
from appliance.shop import load_shop_settings
from appliance.signup import create_enrolment_code
from appliance.vouchers import redeem_voucher
from appliance.wallet.links import enrolment_slip, wallet_links

from . import feed
from .admin import page_zone
from .auth import login_required
from .errors import wants_json
from .i18n import CUSTOMER_LOCALES
from .i18n import _gettext as _
from .refusals import explain

bp = Blueprint("counter", __name__, url_prefix="/counter")


class RedeemForm(FlaskForm):
    code = HiddenField(validators=[InputRequired(), Length(max=64)])


class SimulateForm(FlaskForm):
    token = StringField(_l("Card UID or code"), validators=[InputRequired(), Length(max=512)])
    stamps = IntegerField(
        _l("Stamps"), default=1, validators=[NumberRange(1, MAX_STAMPS_PER_VISIT)]
    )


class EnrolForm(FlaskForm):
    card_uid = HiddenField(validators=[InputRequired(), Length(max=40)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)])
    birthday = StringField(_l("Birthday (MM-DD)"), validators=[Optional(), Length(max=10)])


def _language() -> str:
    """The counter speaks the shop's language (set in the admin); ?lang= tries another."""
    asked = request.args.get("lang", "")
    if asked in CUSTOMER_LOCALES:
        return asked
    return load_shop_settings().language


def in_shop_language(view):
    """Render the view, and the sentences it answers with, in the shop's language."""

    @functools.wraps(view)
    def wrapped(**kwargs):
        with force_locale(_language()):
            # web.i18n caches the request's catalogue: drop it on the way in and out
            g.pop("_translations", None)
            try:
                return view(**kwargs)
            finally:
                g.pop("_translations", None)

    return wrapped


def screen_texts() -> dict:
    """The words counter.js puts on the screen, translated; {n}-style fields are filled in
    by the script."""
    return {
        "labels": {
            "stamped": _("Stamped"),
            "cooldown": _("Already stamped"),
            "unknown_card": _("Unknown card — enrol"),
            "voucher": _("Voucher"),
            "redeemed": _("Redeemed"),
            "refused": _("Refused"),
            "enrolled": _("Enrolled"),
        },
        "short": {"cooldown": _("Cooldown"), "unknown_card": _("Unknown card")},
        "customer": _("Customer"),
        "count": _("%(count)s of %(needed)s", count="{count}", needed="{needed}"),
        "full": _("card full!"),
        "unlocked": _("Unlocked: %(rewards)s", rewards="{rewards}"),
        "waiting": _("Rewards waiting"),
        "birthday_gift": _("Birthday gift"),
        "until": _("until %(day)s", day="{day}"),
        "redeem": _("Redeem %(reward)s", reward="{reward}"),
        "card": _("Card %(uid)s", uid="{uid}"),
        "enrol_card": _("Enrol card %(uid)s", uid="{uid}"),
        "no_answer": _("The box did not answer. Check the network and try again."),
        "live": _("live"),
        "reconnecting": _("reconnecting…"),
        "offline": _("offline — reloading"),
    }


def _dev_mode() -> bool:
    return current_app.config["STAMPBOX_SETTINGS"].dev_mode


def _reply(data: dict, code: int = 200):
    """JSON for the screen's script, a flash and a redirect for a plain form post."""
    if wants_json():
        return jsonify(data), code
    flash(data["message"], data.get("status", "info"))
    return redirect(url_for("counter.screen"))


def _form_problem(form: FlaskForm):
    field, messages = next(iter(form.errors.items()))
    label = getattr(form, field).label.text if hasattr(form, field) else field
    return _reply({"status": "refused", "message": f"{label}: {messages[0]}"}, 400)


@bp.get("")
@login_required
@in_shop_language
def screen():
    return render_template(
        "counter/screen.html",
        redeem_form=RedeemForm(),
        enrol_form=EnrolForm(),
        simulate_form=SimulateForm() if _dev_mode() else None,
        printer=printer_state(),
        texts=screen_texts(),
        # times on the screen are the shop's, whatever zone the tablet is set to
        zone=getattr(page_zone(), "key", "") or "",
        # the beep patterns the bridge plays (the core's), so the screen sounds like the buzzer
        sounds={name: pattern.beeps for name, pattern in SIGNALS.items()},
    )


@bp.get("/slip.png")
@login_required
def slip():
    """The picture of the last slip the bridge printed (or, without paper, would have)."""
    path = last_slip_path(current_app.config["STAMPBOX_SETTINGS"])
    if path is None:
        abort(404)
    # ?v= changes with every slip, so the page asks again; the file itself is never cached
    response = send_file(path, mimetype="image/png", max_age=0, conditional=True)
    response.headers["Cache-Control"] = "no-cache, private"
    return response


@bp.get("/printer")
@login_required
def printer():
    return jsonify(printer_state())


@bp.get("/events")
@login_required
def events():
    cfg = current_app.config
    cursor = feed.parse_cursor(request.headers.get("Last-Event-ID"), request.args.get("after"))
    replay_until = 0
    if cursor is None:
        cursor = feed.backlog_start(cfg["COUNTER_BACKLOG"])
        replay_until = feed.latest_id()
    body = feed.stream(
        cursor,
        seconds=cfg["COUNTER_STREAM_SECONDS"],
        poll=cfg["COUNTER_POLL_SECONDS"],
        keepalive=cfg["COUNTER_KEEPALIVE_SECONDS"],
        status=printer_state,
        status_every=cfg.get("COUNTER_PRINTER_SECONDS", 2.0),
        replay_until=replay_until,
    )
    # no-cache and no proxy buffering: each event must reach the screen as it happens
    return Response(
        body,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@bp.post("/redeem")
@login_required
@in_shop_language
def redeem():
    form = RedeemForm()
    if not form.validate_on_submit():
        return _reply({"status": "refused", "message": _("Choose a voucher to redeem.")}, 400)
    result = redeem_voucher(form.code.data, by=g.staff.username, source="counter-screen")
    return _reply(result.to_dict())


@bp.post("/simulate")
@login_required
@in_shop_language
def simulate():
    if not _dev_mode():
        abort(404)
    form = SimulateForm()
    if not form.validate_on_submit():
        return _form_problem(form)
    result = handle(
        form.token.data, source="simulator", stamps=form.stamps.data, staff_id=g.staff.id
    )
    # as the bridge does after a tap: the birthday gift's slip, once
    print_birthday_gift(result)
    return _reply(result.to_dict())


@bp.post("/enrol-slip")
@login_required
@in_shop_language
def enrol_slip():
    """Print the signup slip for an unknown card: the customer finishes signing up on their
    phone from its QR, and the short code ties the signup to this card."""
    form = EnrolForm()
    if not form.validate_on_submit():
        return _form_problem(form)
    try:
        code = create_enrolment_code(form.card_uid.data, g.staff.username)
    except MemberError as exc:
        return _reply({"status": "refused", "message": explain(exc)}, 400)
    settings = current_app.config["STAMPBOX_SETTINGS"]
    link = settings.public_url.rstrip("/") + url_for("signup.join", code=code)
    box = box_mod.current()
    with box.db.atomic():
        job = enqueue(enrolment_receipt(link, code, zone=box.zone), box=box)
    return _reply(
        {
            "status": "info",
            "job": job,
            "code": code,
            "message": _("Signup slip sent to the printer."),
        }
    )


class SettleForm(FlaskForm):
    on_paper = HiddenField(validators=[InputRequired()])
    next = HiddenField()


@bp.post("/print-jobs/<int:job_id>/settle")
@login_required
@in_shop_language
def settle_print_job(job_id: int):
    """A slip the bridge was printing when it stopped: on paper, or print it again."""
    form = SettleForm()
    back = form.next.data or ""
    # back to the page the button was on (the counter or the admin), never elsewhere
    target = back if back.startswith("/") and not back.startswith("//") else None
    if not form.validate_on_submit():
        flash(_("Reload the page and try again."), "error")
        return redirect(target or url_for("counter.screen"))
    on_paper = form.on_paper.data == "yes"
    try:
        settle_unsure(job_id, on_paper, actor=g.staff.username)
    except LookupError:
        flash(_("That slip was already checked."), "error")
    else:
        flash(_("Marked as printed.") if on_paper else _("The slip prints again."), "info")
    return redirect(target or url_for("counter.screen"))


@bp.post("/enrol")
@login_required
@in_shop_language
def enrol():
    form = EnrolForm()
    if not form.validate_on_submit():
        return _form_problem(form)
    try:
        member = add_member(
            form.name.data or "",
            form.email.data,
            form.phone.data,
            form.birthday.data,
            form.card_uid.data,
            actor=g.staff.username,
        )
    except MemberError as exc:
        return _reply({"status": "refused", "message": explain(exc)}, 400)
    who = member["name"] or _("The new member")
    message = _("%(who)s is enrolled. Tap the card again for the first stamp.", who=who)
    reply = {"status": "enrolled", "member": member, "message": message}
    job = _welcome_slip(member["id"])
    if job:
        reply["job"] = job
        reply["message"] += " " + _("The welcome slip with the wallet QR is printing.")
    return _reply(reply)


def _welcome_slip(member_id: int) -> int | None:
    """With a wallet set up, a member enrolled at the counter gets a slip to take away: the
    card's code, their preference page (consents, birthday) and the wallet QR."""
    box = box_mod.current()
    if not wallet_links(box, member_id)["wallet_url"]:
        return None
    slip = enrolment_slip(box, member_id, preferences_url(member_id, box))
    with box.db.atomic():
        return enqueue(slip, box=box)
