"""The owner's campaign pages: write a campaign (audience, channels, content, voucher), preview
it for a member, send a test, send now or schedule, cancel, copy, and watch its progress.

The core (appliance.campaigns) checks, stores and audits; the view reads the form and shows the
answer. Every POST is CSRF-checked by CSRFProtect; every route is the owner's. Segments and
automations have their own blueprints (admin_segments, admin_automations); the editor they
share with this one is web.message_editor.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext

from appliance import box as box_mod
from appliance import campaigns, segments
from appliance.channels import REGISTRY
from appliance.channels.starters import STARTERS, starter_content
from appliance.clock import utcnow
from appliance.messages import SMS_MAX_CHARS, sms_info
from appliance.program import load_program

from .admin import page_zone
from .admin_segments import params_text, parse_params_text, segment_choices
from .message_editor import (
    content_from_form,
    editor_context,
    email_html_response,
    first_member,
    preview_page,
    sms_checks,
)
from .refusals import explain
from .security import owner_required

bp = Blueprint("campaigns", __name__, url_prefix="/admin")
log = logging.getLogger(__name__)

TEST_CHANNELS = ("email", "sms")  # a wallet push needs a pass: it cannot go to "yourself"


def _actor() -> str:
    return g.staff.username


def _box():
    return box_mod.current()


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@bp.get("/campaigns")
@owner_required
def campaign_list():
    rows = campaigns.list_campaigns(box=_box())
    for row in rows:
        row["scheduled"] = _moment(row["scheduled_at"])
        row["created"] = _moment(row["created_at"])
    return render_template("admin/campaigns.html", rows=rows)


def _campaign_form(campaign_id: int | None, values: dict, status: int = 200):
    page = render_template(
        "admin/campaign_form.html",
        **editor_context(
            campaign_id=campaign_id,
            form=values,
            segment_choices=segment_choices(),
            kinds=segments.KINDS,
            # a starter fills the SMS text before the owner ticks SMS: counted once chosen
            sms_checks=sms_checks(values["content"] if "sms" in values["channels"] else {}),
            starters=STARTERS if campaign_id is None else {},
        ),
    )
    return page, status


def _form_values() -> dict:
    form = request.form
    chosen = [c for c in form.getlist("channels") if c in REGISTRY]
    return {
        "name": form.get("name", ""),
        "segment": form.get("segment", ""),
        "params": form.get("params", ""),
        "channels": chosen,
        "content": content_from_form(form, chosen),
        "voucher_reward": form.get("voucher_reward", ""),
        "voucher_days": form.get("voucher_days", "30"),
    }


def _save_campaign(campaign_id: int | None):
    values = _form_values()
    try:
        days = int(values["voucher_days"] or 30)
    except ValueError:
        flash(gettext("Voucher days must be a whole number."), "error")
        return _campaign_form(campaign_id, values, 400)
    try:
        args = (
            values["name"],
            values["segment"],
            parse_params_text(values["params"]),
            values["channels"],
            values["content"],
        )
        kwargs = {
            "voucher_reward": values["voucher_reward"] or None,
            "voucher_days": days,
            "actor": _actor(),
            "box": _box(),
        }
        if campaign_id is None:
            saved = campaigns.create_campaign(*args, **kwargs)
        else:
            saved = campaigns.update_campaign(campaign_id, *args, **kwargs)
    except (campaigns.CampaignError, segments.SegmentError) as exc:
        flash(explain(exc), "error")
        return _campaign_form(campaign_id, values, 400)
    flash(gettext("Campaign saved."), "info")
    return redirect(url_for("campaigns.campaign_detail", campaign_id=saved["id"]))


@bp.get("/campaigns/new")
@owner_required
def campaign_new():
    chosen = [c for c in request.args.getlist("channels") if c in REGISTRY]
    values = {
        "name": "",
        "segment": request.args.get("segment", "inactive"),
        "params": request.args.get("params", ""),
        "channels": chosen or ["email"],
        "content": {},
        "voucher_reward": "",
        "voucher_days": "30",
        "starter": "",
    }
    name = request.args.get("starter", "")
    if name in STARTERS:
        values.update(_from_starter(name, "segment" in request.args))
    return _campaign_form(None, values)


def _from_starter(name: str, segment_given: bool) -> dict:
    """The form's fields filled from a ready-made message (content for every channel it has,
    so a channel ticked later is filled in too)."""
    starter = STARTERS[name]
    values = {"starter": name, "content": starter_content(name, list(REGISTRY))}
    if starter["segment"] and not segment_given:
        values["segment"] = starter["segment"]
    if starter["voucher"]:
        # the card's first reward is the owner's likeliest gift; they change it in the form
        program = load_program(_box().db)
        values["voucher_reward"] = program.tiers[0].reward if program else gettext("A gift")
    return values


@bp.post("/campaigns/new")
@owner_required
def campaign_create():
    return _save_campaign(None)


def _load(campaign_id: int) -> dict:
    try:
        return campaigns.load(campaign_id, _box())
    except campaigns.CampaignError:
        abort(404)


@bp.get("/campaigns/<int:campaign_id>/edit")
@owner_required
def campaign_edit(campaign_id: int):
    c = _load(campaign_id)
    values = {
        **c,
        "params": params_text(c["params"]),
        "voucher_reward": c["voucher_reward"] or "",
        "voucher_days": c["voucher_days"] or 30,
    }
    return _campaign_form(campaign_id, values)


@bp.post("/campaigns/<int:campaign_id>/edit")
@owner_required
def campaign_update(campaign_id: int):
    _load(campaign_id)
    return _save_campaign(campaign_id)


@bp.get("/campaigns/<int:campaign_id>")
@owner_required
def campaign_detail(campaign_id: int):
    c = _load(campaign_id)
    status = campaigns.campaign_status(campaign_id, box=_box())
    audience = audience_url = None
    if c["state"] in ("draft", "scheduled"):
        # who it would go to if sent now (before consent and suppression per channel); a
        # costly segment is counted by the page's script, after the page
        try:
            seg = segments.resolve(c["segment"], c["params"], utcnow(), _box())
            if segments.KINDS[seg.kind].costly:
                audience_url = url_for("segments.segment_count", name=c["segment"], **c["params"])
            else:
                audience = segments.count(
                    segments.Segment(seg.name, seg.kind, seg.params, seg.as_of, page_zone()),
                    _box(),
                )
        except segments.SegmentError as exc:
            flash(explain(exc), "error")
    return render_template(
        "admin/campaign.html",
        c=c,
        status=status,
        audience=audience,
        audience_url=audience_url,
        scheduled=_moment(c["scheduled_at"]),
        queued_at=_moment(c["queued_at"]),
        sms_checks=sms_checks(c["content"]),
        test_channels=[ch for ch in c["channels"] if ch in TEST_CHANNELS],
        test_address=next(
            (session[f"test_{ch}"] for ch in c["channels"] if f"test_{ch}" in session), ""
        ),
        params_text=params_text(c["params"]),
        first_member=first_member(),
    )


@bp.get("/campaigns/sms-info")
@owner_required
def sms_check():
    """Length, encoding and parts of an SMS text as typed (the form's live counter)."""
    info = sms_info(request.args.get("text", "")[: SMS_MAX_CHARS * 4])
    return jsonify(
        {
            **info.to_dict(),
            "max": SMS_MAX_CHARS,
            "too_long": info.length > SMS_MAX_CHARS,
            "summary": gettext(
                "%(length)s / %(max)s characters · %(encoding)s · %(segments)s SMS parts",
                length=info.length,
                max=SMS_MAX_CHARS,
                encoding=info.encoding,
                segments=info.segments,
            ),
        }
    )


@bp.get("/campaigns/<int:campaign_id>/preview")
@owner_required
def campaign_preview(campaign_id: int):
    c = _load(campaign_id)
    return preview_page(
        "admin/campaign_preview.html",
        lambda m: campaigns.preview_campaign(campaign_id, m, box=_box()),
        c=c,
        html_endpoint="campaigns.campaign_preview_html",
        html_args={"campaign_id": campaign_id},
    )


@bp.get("/campaigns/<int:campaign_id>/preview/<int:member_id>/email.html")
@owner_required
def campaign_preview_html(campaign_id: int, member_id: int):
    _load(campaign_id)
    return email_html_response(
        lambda m: campaigns.preview_campaign(campaign_id, m, box=_box()), member_id
    )


def _to_detail(campaign_id: int, message: str, category: str = "info"):
    flash(message, category)
    return redirect(url_for("campaigns.campaign_detail", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/test")
@owner_required
def campaign_test(campaign_id: int):
    _load(campaign_id)
    channel = request.form.get("channel", "email")
    address = request.form.get("address", "").strip()
    if channel not in TEST_CHANNELS or not address:
        return _to_detail(campaign_id, gettext("Give your email address or phone number."), "error")
    try:
        campaigns.send_test(
            campaign_id, channel, address, request.form.get("member", type=int), box=_box()
        )
    except campaigns.CampaignError as exc:
        return _to_detail(campaign_id, explain(exc), "error")
    # the owner's own address, offered again next time (per channel)
    session[f"test_{channel}"] = address[:200]
    return _to_detail(campaign_id, gettext("Test sent to %(address)s.", address=address))


def _kick_worker() -> None:
    """Ask the worker to deliver now rather than at its next minute tick."""
    if current_app.testing:
        return  # tests deliver in their own process, with their own clock
    try:
        from appliance.jobs import deliver_outbox

        deliver_outbox()
    except Exception:  # the minute tick delivers anyway: a failed nudge is no error
        log.warning("could not nudge the worker", exc_info=True)


@bp.post("/campaigns/<int:campaign_id>/send")
@owner_required
def campaign_send(campaign_id: int):
    try:
        result = campaigns.send_campaign(campaign_id, box=_box(), actor=_actor())
    except (campaigns.CampaignError, segments.SegmentError) as exc:
        return _to_detail(campaign_id, explain(exc), "error")
    _kick_worker()
    return _to_detail(
        campaign_id,
        gettext("Queued for %(n)s recipients.", n=result["recipients"]),
    )


@bp.post("/campaigns/<int:campaign_id>/schedule")
@owner_required
def campaign_schedule(campaign_id: int):
    _load(campaign_id)
    text = request.form.get("at", "").strip()
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return _to_detail(campaign_id, gettext("Choose a date and a time."), "error")
    if at.tzinfo is None:
        at = at.replace(tzinfo=page_zone())  # the owner means the shop's clock
    if at <= utcnow():
        return _to_detail(
            campaign_id, gettext("That time has passed: choose a later one."), "error"
        )
    try:
        campaigns.send_campaign(campaign_id, at=at, box=_box(), actor=_actor())
    except campaigns.CampaignError as exc:
        return _to_detail(campaign_id, explain(exc), "error")
    return _to_detail(campaign_id, gettext("Campaign scheduled."))


@bp.post("/campaigns/<int:campaign_id>/copy")
@owner_required
def campaign_copy(campaign_id: int):
    """A new draft like this campaign (a sent or cancelled one cannot be changed)."""
    c = _load(campaign_id)
    try:
        copy = campaigns.create_campaign(
            gettext("%(name)s (copy)", name=c["name"])[:120],
            c["segment"],
            c["params"],
            c["channels"],
            c["content"],
            voucher_reward=c["voucher_reward"],
            voucher_days=c["voucher_days"] or 30,
            actor=_actor(),
            box=_box(),
        )
    except (campaigns.CampaignError, segments.SegmentError) as exc:
        return _to_detail(campaign_id, explain(exc), "error")
    flash(gettext("A copy to change and send."), "info")
    return redirect(url_for("campaigns.campaign_edit", campaign_id=copy["id"]))


@bp.post("/campaigns/<int:campaign_id>/cancel")
@owner_required
def campaign_cancel(campaign_id: int):
    try:
        campaigns.cancel_campaign(campaign_id, box=_box(), actor=_actor())
    except campaigns.CampaignError as exc:
        return _to_detail(campaign_id, explain(exc), "error")
    return _to_detail(campaign_id, gettext("Campaign cancelled."))
