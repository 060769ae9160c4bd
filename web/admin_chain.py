"""The owner's chain page: this box's sync state and the voucher conflicts with their policy.

Owner only; every form is CSRF-checked (CSRFProtect) and every decision audited by the core.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from appliance import box as box_mod
from appliance.chain.conflicts import (
    POLICIES,
    ConflictError,
    default_policy,
    list_conflicts,
    resolve,
    set_default_policy,
)
from appliance.chain.status import sync_state

from .refusals import explain
from .security import owner_required

bp = Blueprint("admin_chain", __name__, url_prefix="/admin/chain")


@bp.get("")
@owner_required
def overview():
    db = box_mod.current().db
    return render_template(
        "admin/chain.html",
        chain_on=bool(box_mod.current().settings.chain_nats_url),
        state=sync_state(db),
        policy=default_policy(db),
        policies=POLICIES,
        conflicts=list_conflicts(db),
        explain=explain,  # each conflict's note in the owner's language
    )


@bp.post("/policy")
@owner_required
def policy():
    try:
        set_default_policy(box_mod.current().db, request.form.get("policy", ""), g.staff.username)
    except ConflictError as exc:
        flash(explain(exc), "error")
    return redirect(url_for("admin_chain.overview"))


@bp.post("/conflicts/<int:conflict_id>")
@owner_required
def settle(conflict_id: int):
    try:
        note = resolve(
            box_mod.current().db, conflict_id, request.form.get("policy", ""), g.staff.username
        )
    except ConflictError as exc:
        flash(explain(exc), "error")
    else:
        if note:
            flash(explain(note), "info")
    return redirect(url_for("admin_chain.overview"))
