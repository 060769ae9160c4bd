"""Member pages: search, detail, and the owner's actions (replace card, merge, export, erase,
issue or void a voucher). Staff may look members up; changes are the owner's."""

from __future__ import annotations

import functools
import hashlib

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from markupsafe import Markup, escape

from appliance.member_rights import erase_member, export_member
from appliance.member_view import HISTORY, member_page
from appliance.members import MemberError, merge_members, replace_card
from appliance.models import Member, Voucher
from appliance.search import search_members
from appliance.voucher_admin import issue_manual_voucher, recent_vouchers, void_voucher

from .admin import page_zone
from .admin_wallet import wallet_link
from .auth import login_required
from .i18n import page_language
from .page_cache import cached_csrf_token
from .qr import qr_svg
from .refusals import explain
from .security import owner_required

bp = Blueprint("members", __name__, url_prefix="/admin")


def _done(member_id: int, message: str, category: str = "info"):
    flash(message, category)
    return redirect(url_for("members.detail", member_id=member_id))


# The owner-actions block (five forms, a dozen labels) is the same on every member page but
# for the member's number and the session's CSRF token: it is rendered once per (language,
# script root) with these stand-ins, which are then replaced per page (bench/README.md).
_STAND_IN_ID = 918_273_645_546_372_819
_STAND_IN_TOKEN = "csrf-stand-in-7f3a9c"
_ACTIONS: dict[tuple[str, str], str] = {}


def owner_actions(member_id: int) -> Markup:
    """admin/member_actions.html for this member and session (the template checks the role)."""
    key = (page_language() or "en", request.script_root)
    text = _ACTIONS.get(key)
    if text is None:
        text = render_template(
            "admin/member_actions.html",
            member_id=_STAND_IN_ID,
            csrf_token=lambda: _STAND_IN_TOKEN,
        )
        if len(_ACTIONS) > 64:
            _ACTIONS.clear()
        _ACTIONS[key] = text
    token = str(escape(cached_csrf_token()))
    return Markup(
        text.replace(str(_STAND_IN_ID), str(int(member_id))).replace(_STAND_IN_TOKEN, token)
    )


@bp.get("/members")
@login_required
def search():
    query = request.args.get("q", "")
    page = max(1, request.args.get("page", 1, type=int))
    result = search_members(query, page, zone=page_zone())
    return render_template("admin/members.html", result=result)


@bp.get("/members/<int:member_id>")
@login_required
def detail(member_id: int):
    # most views have no query string: it is not parsed for them
    query = request.environ.get("QUERY_STRING")
    history = request.args.get("history", HISTORY, type=int) if query else HISTORY
    page = member_page(member_id, history, page_zone()) or abort(404)
    return render_template(
        "admin/member.html", page=page, member=page.member, owner_actions=owner_actions
    )


@functools.lru_cache(maxsize=256)
def _qr_picture(url: str) -> str:
    return str(qr_svg(url))


@bp.get("/members/<int:member_id>/wallet-qr.svg")
@login_required
def wallet_qr(member_id: int):
    """The member page's wallet QR, as its own picture (staff show it at the counter too).

    Drawing it takes about 7 ms, ten times the rest of the member page: the page comes at
    once and the browser fetches this beside it. Each address is drawn once per process,
    and the browser keeps it (ETag; it asks again and gets 304 Not Modified)."""
    member = Member.get_or_none(Member.id == member_id)
    url = wallet_link(member_id) if member is not None and member.erased_at is None else ""
    if not url:
        abort(404)
    response = Response(_qr_picture(url), mimetype="image/svg+xml")
    response.set_etag(hashlib.sha256(url.encode()).hexdigest()[:32])
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)


@bp.post("/members/<int:member_id>/replace-card")
@owner_required
def replace(member_id: int):
    try:
        card = replace_card(member_id, request.form.get("nfc_uid", ""), g.staff.username)
    except MemberError as exc:
        return _done(member_id, explain(exc), "error")
    return _done(
        member_id,
        gettext("New card %(uid)s given; the old cards are blocked.", uid=card["nfc_uid"]),
    )


@bp.post("/members/<int:member_id>/merge")
@owner_required
def merge(member_id: int):
    other = request.form.get("other_id", type=int)
    if not other:
        message = gettext("Give the number of the member to merge into this one.")
        return _done(member_id, message, "error")
    try:
        merge_members(member_id, other, g.staff.username)
    except MemberError as exc:
        return _done(member_id, explain(exc), "error")
    return _done(member_id, gettext("Member %(id)s was merged into this one.", id=other))


@bp.get("/members/<int:member_id>/export.json")
@owner_required
def export(member_id: int):
    try:
        data = export_member(member_id, g.staff.username)
    except MemberError:
        abort(404)
    response = jsonify(data)
    response.headers["Content-Disposition"] = f'attachment; filename="member-{member_id}.json"'
    return response


@bp.post("/members/<int:member_id>/erase")
@owner_required
def erase(member_id: int):
    if request.form.get("confirm") != "erase":
        return _done(member_id, gettext("Type erase in the box to confirm."), "error")
    try:
        erase_member(member_id, g.staff.username)
    except MemberError as exc:
        return _done(member_id, explain(exc), "error")
    return _done(member_id, gettext("The member's personal data is erased; visit counts are kept."))


@bp.post("/members/<int:member_id>/vouchers")
@owner_required
def issue(member_id: int):
    try:
        voucher = issue_manual_voucher(
            member_id,
            request.form.get("reward", ""),
            request.form.get("days", 30, type=int) or 0,
            g.staff.username,
        )
    except MemberError as exc:
        return _done(member_id, explain(exc), "error")
    return _done(
        member_id,
        gettext(
            "Voucher %(code)s issued: %(reward)s.", code=voucher["code"], reward=voucher["reward"]
        ),
    )


@bp.get("/vouchers")
@owner_required
def vouchers():
    page = max(1, request.args.get("page", 1, type=int))
    rows = list(recent_vouchers(51, (page - 1) * 50))
    return render_template(
        "admin/vouchers.html", vouchers=rows[:50], page=page, has_more=len(rows) > 50
    )


@bp.post("/vouchers/void")
@owner_required
def void():
    try:
        void_voucher(request.form.get("code", ""), g.staff.username)
    except MemberError as exc:
        flash(explain(exc), "error")
    else:
        flash(gettext("The voucher is void."), "info")
    return redirect(url_for("members.vouchers"))


@bp.get("/vouchers/<code>/print")
@owner_required
def print_voucher(code: str):
    voucher = Voucher.get_or_none(Voucher.code == code) or abort(404)
    return render_template("admin/voucher_print.html", voucher=voucher)
