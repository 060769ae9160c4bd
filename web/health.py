"""/healthz for the health check and the update script; the full status for the owner."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, render_template
from peewee import DatabaseError

from appliance import box as box_mod
from appliance import migrate
from appliance.clock import parse_moment
from appliance.health import LOW_DISK_BYTES, box_status
from appliance.heartbeat import STALE_SECONDS, beat

from .security import owner_required

bp = Blueprint("health", __name__)
# the web's heartbeat file is touched at most this often (per process and data folder)
BEAT_SECONDS = 30.0
_beaten: dict[str, float] = {}


@bp.before_app_request
def web_heartbeat() -> None:
    """Any request shows the web is alive: `stampbox status` reads the file this touches."""
    settings = current_app.config["STAMPBOX_SETTINGS"]
    key = str(settings.data_dir)
    if time.monotonic() - _beaten.get(key, -BEAT_SECONDS) >= BEAT_SECONDS:
        _beaten[key] = time.monotonic()
        try:
            beat(settings, "web")
        except OSError:
            pass  # a full or read-only disk must not fail the request; the status shows it


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


def full_status(box) -> dict:
    """The box's status (the web is answering: this is it), with the chain's sync state when
    the box is in a chain."""
    status = box_status(box, web_alive=True)
    if box.settings.chain_nats_url:
        from appliance.chain.status import sync_state

        status["chain"] = sync_state(box.db)
    return status


@bp.get("/admin/status.json")
@owner_required
def status_json():
    """The box's status as `stampbox status --json` prints it (owner only)."""
    return jsonify(full_status(box_mod.current()))


@bp.get("/admin/status")
@owner_required
def status_page():
    """The same status as a page for the owner."""
    return render_template(
        "admin/status.html",
        status=full_status(box_mod.current()),
        low_disk_mb=LOW_DISK_BYTES // 2**20,
        stale_seconds=STALE_SECONDS,
    )


@bp.app_template_filter("moment")
def moment(text: str | None) -> str:
    """An ISO-8601 moment from the core's plain data, written like the `when` filter does."""
    if not text:
        return ""
    return current_app.jinja_env.filters["when"](parse_moment(text))
