"""Customer pages without login: self-signup (/join), email confirmation, unsubscribe (/u/).

The one-click unsubscribe POST (RFC 8058) comes from a mail provider, not from our form, so
it is exempt from CSRF: the signed token in the address is the proof.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from appliance import box as box_mod
from appliance.members import MemberError
from appliance.models import ShopSetting
from appliance.shop import load_shop_settings, logo_path
from appliance.signup import ConsentShown, confirm_email, create_enrolment_code, signup
from appliance.unsubscribe import (
    PREFS,
    preferences,
    set_language,
    unsubscribe,
    verify_unsubscribe_token,
)
from appliance.wallet import PKPASS_TYPE, WalletError, card_state, make_apple_pass
from appliance.wallet.google import member_save_url
from appliance.wallet.links import link_token, verify_link_token, wallets_ready

from .auth import login_required
from .extensions import csrf
from .i18n import CUSTOMER_LOCALES, customer_pages
from .qr import qr_svg
from .refusals import explain


def N_(text: str) -> str:
    """Mark text for the catalogues without translating it yet."""
    return text


bp = Blueprint("signup", __name__)
customer_pages(bp)
CONSENT_VERSION = "2026-11"
# the shop may replace it (shop setting "privacy_text"); the catalogues translate this one
PRIVACY_DEFAULT = N_(
    "We keep your name, contact details and visits to run the stamp card. We never sell them. Ask at the counter to see or delete your data."  # noqa: E501
)


def consent_texts() -> dict:
    return {
        "email": _("Yes, send me offers and news by email. I can unsubscribe at any time."),
        "sms": _("Yes, send me offers by SMS. I can stop them at any time by replying STOP."),
    }


def privacy_text() -> str:
    row = ShopSetting.get_or_none(ShopSetting.key == "privacy_text")
    if row and row.value.strip():
        return row.value
    return _(PRIVACY_DEFAULT)


def _public(path: str) -> str:
    return current_app.config["STAMPBOX_SETTINGS"].public_url.rstrip("/") + path


def _birthday(form) -> str | None:
    day, month, year = (form.get(k, "").strip() for k in ("day", "month", "year"))
    if not day and not month:
        return None
    if not (day.isdigit() and month.isdigit()) or (year and not year.isdigit()):
        raise MemberError(_("Choose the day and the month of your birthday."))
    text = f"{int(month):02d}-{int(day):02d}"
    return f"{int(year):04d}-{text}" if year else text


@bp.route("/join", methods=["GET", "POST"])
def join():
    texts = consent_texts()
    form = request.form if request.method == "POST" else request.args
    if request.method == "POST":
        consents = [
            ConsentShown(channel, texts[channel], CONSENT_VERSION)
            for channel in ("email", "sms")
            if form.get(f"consent_{channel}") == "yes"
        ]
        try:
            result = signup(
                name=form.get("name", "")[:120],
                email=form.get("email", "")[:254],
                phone=form.get("phone", "")[:32],
                birthday=_birthday(form),
                consents=consents,
                locale=str(get_locale()),
                source="self-signup:/join",
                slip_code=(form.get("code") or request.args.get("code", ""))[:12],
            )
        except MemberError as exc:
            return render_template(
                "signup/join.html", texts=texts, form=form, error=explain(exc),
                privacy=privacy_text(),
            ), 400  # fmt: skip
        if result.confirmation_queued:
            _nudge_worker()  # the confirmation goes now, not at the worker's next minute
        return render_template(
            "signup/welcome.html", result=result, qr=qr_svg(result.card_code),
            wallet=_wallet_buttons(result.member_id),
        )  # fmt: skip
    return render_template(
        "signup/join.html", texts=texts, form=form, error=None, privacy=privacy_text(),
        shop_name=load_shop_settings().shop_name,
        has_logo=logo_path(current_app.config["STAMPBOX_SETTINGS"]).exists(),
    )  # fmt: skip


def _nudge_worker() -> None:
    if current_app.testing:
        return  # tests deliver in their own process, with their own clock
    try:
        from appliance.jobs import deliver_outbox

        deliver_outbox()
    except Exception:  # the minute tick sends it anyway: a failed nudge is no error
        current_app.logger.warning("could not nudge the worker", exc_info=True)


@bp.get("/join/confirm/<token>")
def confirm(token: str):
    member_id = confirm_email(token)
    if member_id is None:
        return render_template("signup/confirmed.html", ok=False), 404
    # the customer opened the email on their phone: the moment to offer the wallet card
    return render_template("signup/confirmed.html", ok=True, wallet=_wallet_buttons(member_id))


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe_page(token: str):
    found = verify_unsubscribe_token(token)
    if found is None:
        return render_template("signup/unsubscribe.html", state="invalid"), 404
    member_id, channel = found
    if channel == PREFS:
        return redirect(url_for("signup.preferences_page", token=token))
    if request.method == "POST":
        # one-click (RFC 8058) posts List-Unsubscribe=One-Click; our own button posts a form
        source = "one-click" if request.form.get("List-Unsubscribe") else "unsubscribe-page"
        wording = _("Stop sending me offers by %(channel)s.", channel=channel)
        unsubscribe(member_id, channel, source, wording)
        return render_template("signup/unsubscribe.html", state="done", channel=channel)
    return render_template("signup/unsubscribe.html", state="ask", channel=channel)


@bp.route("/p/<token>", methods=["GET", "POST"])
def preferences_page(token: str):
    """Every channel and the language, from a signed link in any message (CSRF applies:
    this is our own form, not a mail provider's one-click request)."""
    found = verify_unsubscribe_token(token)
    prefs = preferences(found[0]) if found and found[1] == PREFS else None
    if prefs is None:
        return render_template("signup/unsubscribe.html", state="invalid"), 404
    member_id = found[0]
    saved = False
    if request.method == "POST":
        for channel in ("email", "sms"):
            if prefs[channel] and request.form.get(channel) != "yes":
                wording = _("Stop sending me offers by %(channel)s.", channel=channel)
                unsubscribe(member_id, channel, "preferences-page", wording)
        language = request.form.get("language", "")
        if language in CUSTOMER_LOCALES and language != prefs["locale"]:
            set_language(member_id, language)
        prefs, saved = preferences(member_id), True
    return render_template(
        "signup/preferences.html", prefs=prefs, saved=saved, languages=LANGUAGE_NAMES
    )


LANGUAGE_NAMES = {"en": "English", "he": "עברית", "kk": "Қазақша", "zh": "简体中文"}


@bp.get("/admin/signup-qr")
@login_required
def qr():
    link = _public(url_for("signup.join"))
    return render_template("signup/qr.html", link=link, qr=qr_svg(link))


@bp.post("/admin/enrolment-slip")
@login_required
def slip():
    from flask import g

    try:
        code = create_enrolment_code(
            request.form.get("nfc_uid") or request.form.get("card_uid", ""), g.staff.username
        )
    except MemberError as exc:
        return render_template("errors/error.html", code=400, message=explain(exc)), 400
    link = _public(url_for("signup.join", code=code))
    return render_template("signup/slip.html", code=code, link=link, qr=qr_svg(link))


# -- adding the card to a phone's wallet (links from the welcome page, emails and slips) ------


def _wallet_buttons(member_id: int) -> dict:
    """Relative addresses of the wallet buttons for a page the customer has open."""
    box = box_mod.current()
    ready = wallets_ready(box)
    token = link_token(box.settings, member_id)
    return {
        "apple": url_for("signup.wallet_apple", token=token) if ready["apple"] else "",
        "google": url_for("signup.wallet_google", token=token) if ready["google"] else "",
    }


def _wallet_member(token: str) -> int | None:
    """The member a wallet link is for, if the link is genuine and the member has a card."""
    box = box_mod.current()
    member_id = verify_link_token(box.settings, token)
    if member_id is None:
        return None
    try:
        card_state(box.db, member_id)
    except WalletError:
        return None  # erased, or no usable card any more
    return member_id


def _wallet_gone():
    return render_template("signup/wallet.html", buttons=None), 404


@bp.get("/w/<token>")
def wallet_page(token: str):
    member_id = _wallet_member(token)
    if member_id is None:
        return _wallet_gone()
    return render_template("signup/wallet.html", buttons=_wallet_buttons(member_id))


@bp.get("/w/<token>/card.pkpass")
def wallet_apple(token: str):
    member_id = _wallet_member(token)
    if member_id is None:
        return _wallet_gone()
    try:
        data, _record = make_apple_pass(box_mod.current(), member_id)
    except WalletError:
        return _wallet_gone()
    response = Response(data, mimetype=PKPASS_TYPE)
    response.headers["Content-Disposition"] = 'attachment; filename="stamp-card.pkpass"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/w/<token>/google")
def wallet_google(token: str):
    member_id = _wallet_member(token)
    if member_id is None:
        return _wallet_gone()
    try:
        # signed now, with the card as it is now: Google stores the object when it is saved
        return redirect(member_save_url(box_mod.current(), member_id))
    except WalletError:
        return _wallet_gone()
