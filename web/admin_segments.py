"""The owner's segment pages: every built-in and saved segment with its live count, one
segment's members as of a moment, and saving a segment under the owner's own name.

The core (appliance.segments) checks, counts and audits; the view reads the form and shows the
answer. Every POST is CSRF-checked by CSRFProtect; every route is the owner's.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from appliance import box as box_mod
from appliance import segments
from appliance.clock import utcnow
from appliance.refusal import N_

from .admin import page_zone
from .refusals import explain
from .security import owner_required

bp = Blueprint("segments", __name__, url_prefix="/admin")
SAMPLE = 20


def _box():
    return box_mod.current()


def parse_params_text(text: str) -> dict:
    """ "days=45, percent=5" → {"days": "45", "percent": "5"} (the core checks the values)."""
    params = {}
    for item in text.replace(",", " ").split():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise segments.SegmentError(
                N_("Write parameters as name=value, e.g. days=45; %(item)s is not."), item=item
            )
        params[key.strip()] = value.strip()
    return params


def params_text(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def segment_choices() -> list[tuple[str, str]]:
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
        flash(explain(exc), "error")
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
        saved = segments.save_segment(form.get("name", ""), kind, given, actor=g.staff.username)
    except segments.SegmentError as exc:
        flash(explain(exc), "error")
        if spec is None:
            return redirect(url_for("segments.segment_list"))
        return redirect(url_for("segments.segment_detail", name=kind, **given))
    flash(gettext("Segment %(name)s saved.", name=saved["name"]), "info")
    return redirect(url_for("segments.segment_detail", name=saved["name"]))


@bp.post("/segments/<name>/delete")
@owner_required
def segment_delete(name: str):
    if segments.delete_segment(name, actor=g.staff.username):
        flash(gettext("Segment %(name)s deleted.", name=name), "info")
    else:
        flash(gettext("There is no saved segment %(name)s.", name=name), "error")
    return redirect(url_for("segments.segment_list"))
