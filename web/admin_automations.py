"""The owner's automation pages: each automation switched on or off, its channels, content and
parameters, and its message previewed for a member.

The core (appliance.automations) checks, stores and audits; the view reads the form and shows
the answer. Every POST is CSRF-checked by CSRFProtect; every route is the owner's.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext

from appliance import automations
from appliance import box as box_mod
from appliance.channels import REGISTRY
from appliance.clock import utcnow

from .message_editor import (
    content_from_form,
    editor_context,
    email_html_response,
    preview_page,
    sms_checks,
)
from .refusals import explain
from .security import owner_required

bp = Blueprint("automations", __name__, url_prefix="/admin")


def _box():
    return box_mod.current()


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
    page = preview_page(
        "admin/automation.html",
        lambda m: automations.preview(auto["name"], m, box=_box()),
        **editor_context(
            auto=auto,
            form=form,
            sms_checks=sms_checks(form["content"]),
            html_endpoint="automations.automation_preview_html",
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
            actor=g.staff.username,
            box=_box(),
        )
    except automations.AutomationError as exc:
        flash(explain(exc), "error")
        return _automation_page(auto, values, 400)
    flash(gettext("Automation saved."), "info")
    return redirect(url_for("automations.automation_detail", name=name))


@bp.get("/automations/<name>/preview/<int:member_id>/email.html")
@owner_required
def automation_preview_html(name: str, member_id: int):
    _automation(name)
    return email_html_response(lambda m: automations.preview(name, m, box=_box()), member_id)
