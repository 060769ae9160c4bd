"""/healthz for the health check and the update script; the full status for the owner."""

from __future__ import annotations

from flask import Blueprint, jsonify
from peewee import DatabaseError

from appliance import box as box_mod
from appliance import migrate
from appliance.health import box_status

from .security import owner_required

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 while the web answers from a database at the current schema, else 503.

    Says nothing about members or messages: it is reachable without a login.
    """
    box = box_mod.current()
    try:
        at_head = migrate.current_version(box.db) >= migrate.head_version()
    except DatabaseError:
        at_head = False
    status = {
        "ok": at_head,
        "database": "ok" if at_head else "unavailable",
        "clock_synchronised": box.clock_trusted(),
    }
    return jsonify(status), 200 if at_head else 503


@bp.get("/admin/status.json")
@owner_required
def status_json():
    """The box's status as `stampbox status --json` prints it (owner only)."""
    return jsonify(box_status(box_mod.current()))
