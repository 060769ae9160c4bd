"""The owner's retention pages: segments, campaigns and automations.

Each page adapts a form to the core (appliance.segments, .campaigns, .automations), which
checks, stores and audits; the view only reads the form and shows the answer. Every POST is
CSRF-checked by CSRFProtect; every route is the owner's.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext

from appliance import automations, campaigns, segments
from appliance import box as box_mod
from appliance.channels import REGISTRY
from appliance.channels.delivery import Suppressed
from appliance.clock import utcnow
from appliance.messages import SMS_MAX_CHARS, VARIABLES, sms_info
from appliance.search import search_members
from appliance.shop import LANGUAGES

from .admin import page_zone
from .security import owner_required

bp = Blueprint("campaigns", __name__, url_prefix="/admin")
log = logging.getLogger(__name__)

# the parts of a message each channel takes, in the order the form shows them
PARTS = {"email": ("subject", "text", "html"), "sms": ("text",), "wallet": ("text",)}
TEST_CHANNELS = ("email", "sms")  # a wallet push needs a pass: it cannot go to "yourself"
SAMPLE = 20
# the preview of an email is the real message: its own inline styles, no script, in a frame
PREVIEW_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
)


def _actor() -> str:
    return g.staff.username


def _box():
    return box_mod.current()


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# -- forms ----------------------------------------------------------------------------------


def parse_params_text(text: str) -> dict:
    """ "days=45, percent=5" → {"days": "45", "percent": "5"} (the core checks the values)."""
    params = {}
    for item in text.replace(",", " ").split():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise segments.SegmentError(
                gettext("Write parameters as name=value, e.g. days=45; %(item)s is not.", item=item)
            )
        params[key.strip()] = value.strip()
    return params


def params_text(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def content_from_form(form, channel_names) -> dict:
    """Fields c.<channel>.<lang>.<part> → {channel: {locale: {part: text}}}; "" = every language."""
    content = {}
    for channel in channel_names:
        per_locale = {}
        for lang in ("", *LANGUAGES):
            parts = {}
            for part in PARTS.get(channel, ("text",)):
                value = form.get(f"c.{channel}.{lang or 'all'}.{part}", "").replace("\r\n", "\n")
                if value.strip():
                    parts[part] = value
            if parts:
                per_locale[lang] = parts
        if per_locale:
            content[channel] = per_locale
    return content


def _sms_checks(content: dict) -> list[dict]:
    """Each SMS text as written (before variables): length, encoding and parts."""
    return [
        {"lang": lang, **sms_info(parts.get("text", "")).to_dict()}
        for lang, parts in (content.get("sms") or {}).items()
    ]


def _editor_context(**values) -> dict:
    return {
        "channel_names": list(REGISTRY),
        # a channel plugged in later (see appliance.channels.register) takes a text
        "parts": {name: PARTS.get(name, ("text",)) for name in REGISTRY},
        "languages": LANGUAGES,
        "variables": VARIABLES,
        "sms_max": SMS_MAX_CHARS,
        **values,
    }


# -- segments -------------------------------------------------------------------------------


def _choices() -> list[tuple[str, str]]:
    """(name, its parameters as the form writes them) for every built-in and saved segment."""
    built_in = [
        (k.name, params_text(segments.params_json(k.defaults))) for k in segments.KINDS.values()
    ]
    saved = [(s["name"], params_text(s["params"])) for s in segments.saved_segments(_box())]
    return built_in + saved


@bp.get("/segments")
@owner_required
def segment_list():
    box, now, zone = _box(), utcnow(), page_zone()
    rows = []
    # a costly segment (seconds on a big shop) is counted by its own request, which the
    # page's script makes once the page is shown, so the others are not kept waiting
    for kind in segments.KINDS.values():
        seg = segments.Segment(kind.name, kind.name, kind.defaults, now, zone)
        rows.append(
            {
                "name": kind.name,
                "kind": kind.name,
                "params": segments.params_json(kind.defaults),
                "count": None if kind.costly else segments.count(seg, box),
                "lazy": kind.costly,
                "saved": False,
            }
        )
    for saved in segments.saved_segments(box):
        costly = saved["kind"] in segments.KINDS and segments.KINDS[saved["kind"]].costly
        n = None
        if not costly:
            try:
                seg = segments.resolve(saved["name"], None, now, box)
                n = segments.count(segments.Segment(seg.name, seg.kind, seg.params, now, zone), box)
            except segments.SegmentError:
                pass  # a saved segment the program no longer supports: shown, not counted
        rows.append({**saved, "count": n, "lazy": costly, "saved": True})
    return render_template("admin/segments.html", rows=rows, now=now)


@bp.get("/segments/<name>/count.json")
@owner_required
def segment_count(name: str):
    """One segment's count now, in the shop's zone (the list page asks for the costly ones)."""
    box, now = _box(), utcnow()
    given = {k: v for k, v in request.args.items() if k != "lang" and v.strip()}
    try:
        seg = segments.resolve(name, given, now, box)
    except segments.SegmentError:
        abort(404)
    n = segments.count(segments.Segment(seg.name, seg.kind, seg.params, now, page_zone()), box)
    return jsonify({"segment": name, "count": n, "as_of": now.isoformat()})


@bp.get("/segments/<name>")
@owner_required
def segment_detail(name: str):
    box, now, zone = _box(), utcnow(), page_zone()
    given = {k: v for k, v in request.args.items() if k not in ("lang", "as_of") and v.strip()}
    as_of_text = request.args.get("as_of", "").strip()
    if as_of_text:
        # "as of" a moment in the shop's clock: visits after it are ignored
        try:
            now = datetime.fromisoformat(as_of_text)
            now = now if now.tzinfo else now.replace(tzinfo=zone)
        except ValueError:
            flash(gettext("Choose a date and a time."), "error")
            as_of_text = ""
    try:
        seg = segments.resolve(name, given, now, box)
    except segments.SegmentError as exc:
        if name not in segments.KINDS and name not in segments.saved_names(box):
            abort(404)
        flash(str(exc), "error")
        try:
            seg = segments.resolve(name, None, now, box)
        except segments.SegmentError:
            abort(404)  # a saved segment this box's program no longer understands
    seg = segments.Segment(seg.name, seg.kind, seg.params, now, zone)
    total, first = segments.sample(seg, SAMPLE, box)
    return render_template(
        "admin/segment.html",
        seg=seg,
        params=segments.params_json(seg.params),
        saved=name not in segments.KINDS,
        count=total,
        sample=first,
        sample_size=SAMPLE,
        now=now,
        as_of=now.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if as_of_text else "",
        params_text=params_text(segments.params_json(seg.params)),
    )


@bp.post("/segments/save")
@owner_required
def segment_save():
    form = request.form
    kind = form.get("kind", "")
    spec = segments.KINDS.get(kind)
    given = {k: form[k] for k in (spec.defaults if spec else {}) if form.get(k, "").strip()}
    try:
        saved = segments.save_segment(form.get("name", ""), kind, given, actor=_actor())
    except segments.SegmentError as exc:
        flash(str(exc), "error")
        if spec is None:
            return redirect(url_for("campaigns.segment_list"))
        return redirect(url_for("campaigns.segment_detail", name=kind, **given))
    flash(gettext("Segment %(name)s saved.", name=saved["name"]), "info")
    return redirect(url_for("campaigns.segment_detail", name=saved["name"]))


@bp.post("/segments/<name>/delete")
@owner_required
def segment_delete(name: str):
    if segments.delete_segment(name, actor=_actor()):
        flash(gettext("Segment %(name)s deleted.", name=name), "info")
    else:
        flash(gettext("There is no saved segment %(name)s.", name=name), "error")
    return redirect(url_for("campaigns.segment_list"))


# -- campaigns ------------------------------------------------------------------------------


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
        **_editor_context(
            campaign_id=campaign_id,
            form=values,
            segment_choices=_choices(),
            kinds=segments.KINDS,
            sms_checks=_sms_checks(values["content"]),
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
        flash(str(exc), "error")
        return _campaign_form(campaign_id, values, 400)
    flash(gettext("Campaign saved."), "info")
    return redirect(url_for("campaigns.campaign_detail", campaign_id=saved["id"]))


@bp.get("/campaigns/new")
@owner_required
def campaign_new():
    values = {
        "name": "",
        "segment": request.args.get("segment", "inactive"),
        "params": request.args.get("params", ""),
        "channels": ["email"],
        "content": {},
        "voucher_reward": "",
        "voucher_days": "30",
    }
    return _campaign_form(None, values)


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
                audience_url = url_for("campaigns.segment_count", name=c["segment"], **c["params"])
            else:
                audience = segments.count(
                    segments.Segment(seg.name, seg.kind, seg.params, seg.as_of, page_zone()),
                    _box(),
                )
        except segments.SegmentError as exc:
            flash(str(exc), "error")
    return render_template(
        "admin/campaign.html",
        c=c,
        status=status,
        audience=audience,
        audience_url=audience_url,
        scheduled=_moment(c["scheduled_at"]),
        queued_at=_moment(c["queued_at"]),
        sms_checks=_sms_checks(c["content"]),
        test_channels=[ch for ch in c["channels"] if ch in TEST_CHANNELS],
        test_address=next(
            (session[f"test_{ch}"] for ch in c["channels"] if f"test_{ch}" in session), ""
        ),
        params_text=params_text(c["params"]),
        first_member=_first_member(),
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


def _first_member() -> int | None:
    return _box().db.execute_sql("SELECT MIN(id) FROM member").fetchone()[0]


def _chosen_member() -> tuple[int | None, str]:
    """The member a preview is for: ?member= a number, or a name, email, phone or card."""
    asked = request.args.get("member", "").strip()
    if not asked:
        return _first_member(), ""
    if asked.isdigit():
        return int(asked), asked
    found = search_members(asked, 1, 1).rows
    return (found[0].id if found else None), asked


def _preview_page(template: str, render, **context):
    member_id, asked = _chosen_member()
    preview, problem = None, None
    if member_id is None and asked:
        problem = gettext("No member matches %(query)s.", query=asked)
    elif member_id is None:
        problem = gettext("A preview needs at least one member.")
    else:
        try:
            preview = render(member_id)
        except Suppressed:
            problem = gettext("There is no member %(id)s.", id=member_id)
    context.setdefault("sms_max", SMS_MAX_CHARS)
    return render_template(
        template, member_id=member_id, preview=preview, problem=problem, **context
    )


@bp.get("/campaigns/<int:campaign_id>/preview")
@owner_required
def campaign_preview(campaign_id: int):
    c = _load(campaign_id)
    return _preview_page(
        "admin/campaign_preview.html",
        lambda m: campaigns.preview_campaign(campaign_id, m, box=_box()),
        c=c,
        html_endpoint="campaigns.campaign_preview_html",
        html_args={"campaign_id": campaign_id},
    )


def _html_response(render, member_id: int):
    try:
        page = render(member_id).get("email", {}).get("html") or abort(404)
    except Suppressed:
        abort(404)
    response = make_response(page)
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/campaigns/<int:campaign_id>/preview/<int:member_id>/email.html")
@owner_required
def campaign_preview_html(campaign_id: int, member_id: int):
    _load(campaign_id)
    return _html_response(
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
        return _to_detail(campaign_id, str(exc), "error")
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
        return _to_detail(campaign_id, str(exc), "error")
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
        return _to_detail(campaign_id, str(exc), "error")
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
        return _to_detail(campaign_id, str(exc), "error")
    flash(gettext("A copy to change and send."), "info")
    return redirect(url_for("campaigns.campaign_edit", campaign_id=copy["id"]))


@bp.post("/campaigns/<int:campaign_id>/cancel")
@owner_required
def campaign_cancel(campaign_id: int):
    try:
        campaigns.cancel_campaign(campaign_id, box=_box(), actor=_actor())
    except campaigns.CampaignError as exc:
        return _to_detail(campaign_id, str(exc), "error")
    return _to_detail(campaign_id, gettext("Campaign cancelled."))


# -- automations ----------------------------------------------------------------------------


def _automation(name: str) -> dict:
    try:
        return automations.load(name, _box())
    except automations.AutomationError:
        abort(404)


@bp.get("/automations")
@owner_required
def automation_list():
    rows = [automations.load(name, _box()) for name in automations.DEFAULTS]
    counts = automations.message_counts(utcnow() - timedelta(days=30), _box())
    return render_template("admin/automations.html", rows=rows, counts=counts)


def _automation_page(auto: dict, form: dict | None = None, status: int = 200):
    form = form or {"channels": auto["channels"], "content": auto["content"]}
    page = _preview_page(
        "admin/automation.html",
        lambda m: automations.preview(auto["name"], m, box=_box()),
        **_editor_context(
            auto=auto,
            form=form,
            sms_checks=_sms_checks(form["content"]),
            html_endpoint="campaigns.automation_preview_html",
            html_args={"name": auto["name"]},
        ),
    )
    return page, status


@bp.get("/automations/<name>")
@owner_required
def automation_detail(name: str):
    return _automation_page(_automation(name))


@bp.post("/automations/<name>")
@owner_required
def automation_save(name: str):
    auto = _automation(name)
    form = request.form
    chosen = [c for c in form.getlist("channels") if c in REGISTRY]
    content = content_from_form(form, list(REGISTRY))
    values = {"channels": chosen, "content": content}
    params = {}
    for key in auto["params"]:
        raw = form.get(key, "").strip()
        if not raw:
            continue
        try:
            params[key] = int(raw)
        except ValueError:
            flash(gettext("%(key)s must be a whole number.", key=key), "error")
            return _automation_page(auto, values, 400)
    enabled = form.get("enabled") == "on"
    if enabled and not chosen:
        flash(gettext("Choose at least one channel to switch it on."), "error")
        return _automation_page(auto, values, 400)
    try:
        automations.configure(
            name,
            enabled=enabled,
            channel_names=chosen,
            content=content or None,
            params=params,
            actor=_actor(),
            box=_box(),
        )
    except automations.AutomationError as exc:
        flash(str(exc), "error")
        return _automation_page(auto, values, 400)
    flash(gettext("Automation saved."), "info")
    return redirect(url_for("campaigns.automation_detail", name=name))


@bp.get("/automations/<name>/preview/<int:member_id>/email.html")
@owner_required
def automation_preview_html(name: str, member_id: int):
    _automation(name)
    return _html_response(lambda m: automations.preview(name, m, box=_box()), member_id)
